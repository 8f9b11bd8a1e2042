"""Issue #4's timing row: attribution methods on a VAE decoder at the LargeBrainAtlas shape.

Times the attribution methods of :mod:`sivae.attribution` with the library function
:func:`sivae.attribution.time_attribution` (as the workflow's ``scripts/timing.py`` does)
on the cell decoder of a :class:`sivae.VAE` at the paper's LargeBrainAtlas shape:
K=20 latent dimensions, F=27998 genes, decoder hidden layers (512, 1024, 2048), i.e.
``sivae.VAE(..., hidden=(2048, 1024, 512))``. The weights are untrained (the timing does
not depend on them); the inputs ``z`` are standard normal. Rows (each library row is a separate
``time_attribution`` call, so that one slow method is bounded by its own budget):

* forward mode: the full Jacobian computed and left on the device (compute only, the
  like-for-like figure for issue #4's reference; timed directly on all ``--cells``), the
  full Jacobian (``method="jacobian"``), saliency and grad × input;
* reverse mode (captum): ``--methods-reverse`` (default saliency), one backward pass per
  output gene, so slow at F=27998 (the paper's point). Each row is timed on as many
  cells as ``--max-seconds`` allows (at least ``--n-pilot``) and extrapolated linearly
  in cells, flagged ``extrapolated``.

Reported per 1000 cells and extrapolated to ``--total-cells`` (default 1.3 million).
The library's forward-mode functions return NumPy arrays, so their time includes the
copy of the ``(cells, F, K)`` Jacobian to the host. TF32 matmuls are enabled on CUDA.
The table is appended to ``benchmarks/results.md`` (``--results`` to write elsewhere,
``--no-write`` to print only). ``--quick`` shrinks the shape so the run takes under a
minute on 2 CPU cores.

Usage::

    python benchmarks/attribution_timing.py                    # GPU: full shape
    python benchmarks/attribution_timing.py --quick --no-write # CPU smoke run
    python benchmarks/attribution_timing.py --methods-reverse saliency,deeplift
"""

from __future__ import annotations

import argparse
import datetime
import os
import time

import anndata as ad
import numpy as np
import pandas as pd
import sivae
import torch
from _stamp import commit, machine, pick_device, report
from sivae.attribution import time_attribution
from sivae.attribution._jacobian import jacobian_chunks

REFERENCE = (
    "issue #4 reference: full forward-mode Jacobian at K=20, F=27998 on one H100: "
    "0.028 s per 1000 cells"
)
QUICK = {
    "K": 20,
    "F": 2000,
    "hidden": "256,128,64",
    "cells": 512,
    "total_cells": 1_300_000,
    "max_seconds": 3.0,
}


def decoder(n_latent: int, n_genes: int, hidden: tuple[int, ...], seed: int = 0):
    """Cell decoder z (batch, K) → x̂ (batch, F) of an untrained :class:`sivae.VAE`."""
    rng = np.random.default_rng(seed)
    adata = ad.AnnData(rng.standard_normal((64, n_genes)).astype(np.float32))
    sivae.VAE.setup_anndata(adata)
    model = sivae.VAE(adata, n_latent=n_latent, hidden=hidden, seed=seed)
    return model.cell_decoder


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_jacobian(module, z: np.ndarray, batch_size: int, total: int, device) -> dict:
    """Forward-mode Jacobian on all of ``z`` left on the device (no host copy), one row.

    The compute-only figure to set against issue #4's reference: ``time_attribution``'s
    ``jacobian`` row also copies the ``(cells, F, K)`` result to a NumPy array.
    """
    x = torch.as_tensor(z, device=device)
    module.to(device)
    list(jacobian_chunks(module, x[:1], batch_size))  # untimed warm-up
    _sync(device)
    start = time.perf_counter()
    chunks = [chunk for _, chunk in jacobian_chunks(module, x, batch_size)]
    _sync(device)
    seconds = time.perf_counter() - start
    f = chunks[0].shape[1]
    del chunks
    return {
        "method": "jacobian (on device, no host copy)",
        "mode": "forward",
        "K": x.shape[1],
        "F": f,
        "n_cells": total,
        "seconds": seconds / x.shape[0] * total,
        "extrapolated": x.shape[0] < total,
        "n_cells_timed": x.shape[0],
        "seconds_timed": seconds,
        "device": str(device),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--K", type=int, default=20, help="latent dimensions")
    parser.add_argument("--F", type=int, default=27998, help="genes (decoder outputs)")
    parser.add_argument(
        "--hidden", default="2048,1024,512", help="encoder hidden sizes (decoder reversed)"
    )
    parser.add_argument("--cells", type=int, default=4096, help="cells available for timing")
    parser.add_argument("--total-cells", type=int, default=1_300_000)
    parser.add_argument("--max-seconds", type=float, default=10.0, help="budget per row")
    parser.add_argument(
        "--n-pilot", type=int, default=None, help="cells in the pilot run (256; 8 with --quick)"
    )
    parser.add_argument("--methods-reverse", default="saliency", help="comma-separated")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="CPU-sized shape (< 60 s)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "results.md"))
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.n_pilot is None:
        args.n_pilot = 8 if args.quick else 256
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = "CPU"
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    reverse = [m for m in args.methods_reverse.split(",") if m]

    tic = time.perf_counter()
    module = decoder(args.K, args.F, hidden).to(device)
    z = np.random.default_rng(1).standard_normal((args.cells, args.K)).astype(np.float32)
    common = {
        "n_cells_total": args.total_cells,
        "max_seconds": args.max_seconds,
        "device": device,
        "n_pilot": args.n_pilot,
        "batch_size": args.batch_size,
    }
    calls = [  # (label, keyword arguments of time_attribution)
        ("jacobian (forward)", {"methods": (), "modes": ("forward",), "include_jacobian": True}),
        *[
            (f"{m} (forward)", {"methods": (m,), "modes": ("forward",), "include_jacobian": False})
            for m in ("saliency", "grad_x_input")
        ],
        *[
            (f"{m} (reverse)", {"methods": (m,), "modes": ("reverse",), "include_jacobian": False})
            for m in reverse
        ],
    ]
    start = time.perf_counter()
    frames = [pd.DataFrame([device_jacobian(module, z, args.batch_size, args.total_cells, device)])]
    print(f"jacobian (on device): done in {time.perf_counter() - start:.1f} s wall", flush=True)
    for label, kwargs in calls:
        start = time.perf_counter()
        frames.append(time_attribution(module, z, **common, **kwargs))
        print(f"{label}: done in {time.perf_counter() - start:.1f} s wall", flush=True)
    table = pd.concat(frames, ignore_index=True)
    table["per_1000"] = table["seconds_timed"] / table["n_cells_timed"] * 1000

    per_1000 = table.set_index("method")["per_1000"]
    measured = (
        f"measured here: {per_1000['jacobian (on device, no host copy)']:.4g} s per 1000 cells "
        f"on {device_name} ({per_1000['jacobian']:.4g} s with the copy to a NumPy array)"
    )
    stamp = f"{datetime.datetime.now():%Y-%m-%d %H:%M} — commit {commit()}"
    lines = [
        f"## attribution_timing — {stamp}",
        "",
        f"Machine: {machine()}; device {device} ({device_name})"
        + ("; TF32 on" if device.type == "cuda" else f"; torch threads {torch.get_num_threads()}")
        + ".",
        f"Untrained sivae.VAE cell decoder, K={args.K}, F={args.F}, hidden {hidden} (decoder "
        f"{tuple(reversed(hidden))}); z ~ N(0, I) on {args.cells} cells; batch {args.batch_size}, "
        f"pilot {args.n_pilot} cells, budget {args.max_seconds:g} s per row; "
        f"{'--quick; ' if args.quick else ''}total {time.perf_counter() - tic:.0f} s.",
        "",
        "| method | mode | K | F | cells timed | seconds timed | s per 1000 cells "
        f"| seconds for {args.total_cells:,} cells | extrapolated | device |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.method} | {row.mode} | {row.K} | {row.F} | {row.n_cells_timed} "
            f"| {row.seconds_timed:.3g} | {row.per_1000:.4g} | {row.seconds:.4g} "
            f"| {'yes' if row.extrapolated else 'no'} | {row.device} |"
        )
    lines += ["", f"{REFERENCE}; {measured}."]
    report("\n".join(lines) + "\n", None if args.no_write else args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
