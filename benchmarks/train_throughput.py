"""Training throughput of siVAE per stage (cells/s; genes/s for stage 2).

Two shapes from the paper: the fetal liver atlas (F=2000 genes, hidden
1024/512/128, K=2) and the LargeBrainAtlas (F=27998, hidden 2048/1024/512, K=20,
C_red=1000). Synthetic sparse counts-like data (10 % non-zero, CSR) so that the
minibatch path (CSR → device → dense → standardise) is the real one.

On CPU the step counts are tiny (2 cores are slow at the large shape); on CUDA
the minibatch is 4096 cells with bf16 autocast. Each stage runs ``epochs``
epochs and the first is discarded as warm-up. Results are appended to
``benchmarks/results.md`` with machine, date and commit.

Peer: when scvi-tools is importable (it is an optional dependency, not in the
lock), scvi-tools' ``SCVI`` is timed on the same cells (the raw counts behind
the log-counts siVAE sees), same minibatch, device and epochs, with
``n_latent`` = K, ``n_layers`` = the number of siVAE encoder layers and
``n_hidden`` = the widest of them, no dropout, NB likelihood. SCVI has one width
for every hidden layer, so the architectures cannot match exactly: at the
fetal-liver shape SCVI's layers are 1024/1024/1024 where siVAE's are
1024/512/128, and SCVI's decoder has two gene-wide heads (scale and dropout
logits); the table gives both models' matmul work per cell so the ratio can be
read against it. Ratios are siVAE cells/s over SCVI cells/s, for siVAE's stage 1
(the cell VAE, SCVI's counterpart) and stage 3 (joint, with the feature side).
On CUDA SCVI is timed twice: at its defaults (full fp32, minibatches densified
on the host), and at Lightning's ``bf16-mixed`` (siVAE's precision there) with
``load_sparse_tensor=True`` (CSR minibatches densified on the device, as siVAE
does). Without scvi-tools the peer is skipped with a line saying so.

Usage::

    python benchmarks/train_throughput.py [--device auto|cpu|cuda] [--shapes fetal,large]
        [--epochs 3] [--threads N] [--no-peer] [--peer-settings 32,bf16-mixed+sparse] [--compile]
"""

import argparse
import datetime
import functools
import os
import sys
import time
from itertools import pairwise

import anndata as ad
import numpy as np
import scipy.sparse as sp
import sivae
import torch
from _stamp import commit, machine

SHAPES = {
    "fetal": {"n_genes": 2000, "hidden": (1024, 512, 128), "n_latent": 2, "n_feature_input": 10000},
    "large": {
        "n_genes": 27998,
        "hidden": (2048, 1024, 512),
        "n_latent": 20,
        "n_feature_input": 1000,
    },
}


@functools.cache
def synthetic(n_cells: int, n_genes: int, seed: int = 0) -> ad.AnnData:
    """CSR ``X`` = log1p(counts) for siVAE, ``layers["counts"]`` (integers ≥ 1) for the peer.

    Each entry is non-zero with probability 0.1. The column indices of a row are the
    running sums of geometric gaps, which draws them in order and in a few seconds at
    32768 × 27998 where ``scipy.sparse.random`` takes about a minute. Cached: the
    eager and compiled runs of a shape train on the same cells.
    """
    rng = np.random.default_rng(seed)
    density = 0.1
    width = int(n_genes * density + 6 * np.sqrt(n_genes * density) + 16)  # > any row's count
    columns = np.cumsum(rng.geometric(density, size=(n_cells, width)), axis=1) - 1
    keep = columns < n_genes
    if keep[:, -1].any():  # a row ran out of gaps: vanishingly rare at 6 sd
        raise RuntimeError("synthetic: row width too small, raise the margin")
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    counts = rng.poisson(3.0, size=int(indptr[-1])).astype(np.float32) + 1
    x = sp.csr_matrix((counts, columns[keep].astype(np.int32), indptr), shape=(n_cells, n_genes))
    adata = ad.AnnData(np.log1p(x))
    adata.layers["counts"] = x
    return adata


def macs_per_cell(name: str) -> dict:
    """Multiply–accumulates per cell of one forward pass of each cell-side network."""
    shape = SHAPES[name]
    f, k, hidden = shape["n_genes"], shape["n_latent"], shape["hidden"]
    enc = [f, *hidden]
    sivae_enc = sum(a * b for a, b in pairwise(enc)) + 2 * hidden[-1] * k
    dec = [k, *reversed(hidden[1:]), hidden[0]]
    sivae_dec = sum(a * b for a, b in pairwise(dec)) + hidden[0] * f
    h, n = max(hidden), len(hidden)
    scvi_enc = f * h + (n - 1) * h * h + 2 * h * k
    scvi_dec = k * h + (n - 1) * h * h + 2 * h * f  # scale and dropout heads
    return {"sivae": sivae_enc + sivae_dec, "scvi": scvi_enc + scvi_dec}


def run_shape(name: str, device: str, epochs: int, peer_settings=(), compile: bool = False) -> dict:
    shape = SHAPES[name]
    cuda = device == "cuda"
    batch = 4096 if cuda else 128
    steps = 8 if cuda else (4 if name == "fetal" else 1)
    n_cells = max(batch * steps, shape["n_feature_input"] if name == "fetal" and cuda else 0)
    adata = synthetic(n_cells, shape["n_genes"])
    out = {"shape": name, "device": device, "batch": batch, "n_cells": n_cells, "compile": compile}
    out["peers"] = {p: run_scvi(adata, name, device, epochs, batch, p) for p in peer_settings}
    model = sivae.SIVAE(
        adata,
        n_latent=shape["n_latent"],
        hidden=shape["hidden"],
        n_feature_input=min(shape["n_feature_input"], n_cells),
        feature_input="subsample",
        seed=0,
    )
    feature_batch = 4096 if cuda or name == "large" else 512
    model.train(
        max_epochs=epochs,
        feature_epochs=epochs,
        batch_size=batch,
        feature_batch_size=feature_batch,
        device=device,
        progress_bar=False,
        compile=compile,
    )
    h = model.history
    for stage in (1, 2, 3):
        timed = h[(h.stage == stage) & (h.epoch > 0)]  # epoch 0 is warm-up
        items = shape["n_genes"] if stage == 2 else n_cells
        out[f"stage{stage}"] = items * len(timed) / timed["time_s"].sum()
    return out


def run_scvi(
    adata: ad.AnnData, name: str, device: str, epochs: int, batch: int, setting: str = "32"
):
    """SCVI cells/s on ``adata.layers["counts"]`` (first epoch discarded), or a skip reason.

    ``setting`` is a Lightning precision: ``"32"`` (SCVI's default, full fp32 matmuls) or
    ``"bf16-mixed"`` (autocast, as siVAE trains on CUDA); a ``"+sparse"`` suffix
    sets SCVI's ``load_sparse_tensor=True`` (CSR minibatches go to the device and
    are densified there, as siVAE does, instead of being densified on the host).
    """
    try:
        import scvi
        from lightning.pytorch.callbacks import Callback
    except ImportError:
        return "scvi-tools not installed"
    shape = SHAPES[name]

    class EpochTimer(Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_epoch_start(self, trainer, module) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            self.tic = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.tic)

    threads = torch.get_num_threads()
    failure = None
    for validate in (True, False):
        scvi.settings.seed = 0
        torch.set_num_threads(threads)  # the seed setter must not change the thread count
        data = adata.copy()
        scvi.model.SCVI.setup_anndata(data, layer="counts")
        model = scvi.model.SCVI(
            data,
            n_latent=shape["n_latent"],
            n_hidden=max(shape["hidden"]),
            n_layers=len(shape["hidden"]),
            dropout_rate=0.0,
            gene_likelihood="nb",
        )
        timer = EpochTimer()
        default_validation = torch.distributions.Distribution._validate_args
        torch.distributions.Distribution.set_default_validate_args(validate)
        try:
            _fit_scvi(model, epochs, batch, device, timer, setting)
        except Exception as err:  # a diverging peer must not cost the siVAE figures
            failure = f"{type(err).__name__}: {str(err).splitlines()[0][:100]}"
            continue
        finally:
            torch.distributions.Distribution.set_default_validate_args(default_validation)
            torch.set_num_threads(threads)
        timed = timer.times[1:]  # epoch 0 is warm-up
        rate = data.n_obs * len(timed) / sum(timed)
        # On NaN, torch.distributions' argument checks stop SCVI. The second try
        # runs the same work with the checks off (NaN does not change a matmul's
        # cost), so the timing stands; the note says so.
        note = "" if validate else f"timed with distribution checks off after {failure}"
        return {"version": scvi.__version__, "cells_per_s": rate, "note": note}
    return f"SCVI failed: {failure}"


def _fit_scvi(model, epochs: int, batch: int, device: str, timer, setting: str) -> None:
    precision, _, loader = setting.partition("+")
    model.train(
        load_sparse_tensor=loader == "sparse",
        max_epochs=epochs,
        batch_size=batch,
        train_size=1.0,
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        callbacks=[timer],
        precision=precision,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--shapes", default="fetal,large")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per stage (first is warm-up)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-peer", action="store_true", help="do not time scvi-tools' SCVI")
    parser.add_argument(
        "--peer-settings",
        default=None,
        help="SCVI settings, comma-separated: a Lightning precision, +sparse for "
        "load_sparse_tensor=True (default: 32,bf16-mixed+sparse on CUDA, 32 on CPU)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="also time siVAE with train(compile=True)"
    )
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "results.md"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if args.no_peer:
        peer_settings = []
    elif args.peer_settings:
        peer_settings = args.peer_settings.split(",")
    else:
        peer_settings = ["32", "bf16-mixed+sparse"] if device == "cuda" else ["32"]
    rows = []
    for shape in args.shapes.split(","):
        rows.append(run_shape(shape, device, args.epochs, peer_settings))
        print(rows[-1], flush=True)  # each shape as soon as it is done
        if args.compile:  # the peer ran already: time siVAE compiled alone
            rows.append(run_shape(shape, device, args.epochs, compile=True))
            print(rows[-1], flush=True)
    eager = [r for r in rows if not r["compile"]]  # the rows the peer ran with
    peers = [p for r in eager for p in r["peers"].values() if isinstance(p, dict)]
    if args.no_peer:
        peer = "scvi-tools peer not run (--no-peer)"
    elif not peers:
        reasons = sorted({str(p) for r in eager for p in r["peers"].values()})
        peer = f"peer comparison skipped ({'; '.join(reasons)})"
    else:
        peer = f"peer: scvi-tools {peers[0]['version']} SCVI (see the second table)"
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"\n## {stamp} — {device} — commit {commit()}\n",
        f"Machine: {machine()}; torch threads {torch.get_num_threads()}. {peer}.\n",
        "| shape | device | compiled | batch | cells | stage 1 cells/s | stage 2 genes/s "
        "| stage 3 cells/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['device']} | {'yes' if r['compile'] else 'no'} | "
            f"{r['batch']} | {r['n_cells']} | "
            f"{r['stage1']:.0f} | {r['stage2']:.0f} | {r['stage3']:.0f} |"
        )
    if peers:
        lines += [
            "",
            "| shape | SCVI n_layers × n_hidden | SCVI settings | MACs/cell siVAE : SCVI "
            "| SCVI cells/s | siVAE stage 1 / SCVI | siVAE stage 3 / SCVI |",
            "|---|---|---|---|---|---|---|",
        ]
        notes = []
        for r in eager:
            shape, macs = SHAPES[r["shape"]], macs_per_cell(r["shape"])
            for setting, result in r["peers"].items():
                lead = f"| {r['shape']} | {len(shape['hidden'])} × {max(shape['hidden'])} | {setting} |"
                if not isinstance(result, dict):
                    lines.append(f"{lead} {result} | | | |")
                    continue
                rate = result["cells_per_s"]
                lines.append(
                    f"{lead} {macs['sivae'] / 1e6:.1f}M : {macs['scvi'] / 1e6:.1f}M | {rate:.0f} | "
                    f"{r['stage1'] / rate:.2f} | {r['stage3'] / rate:.2f} |"
                )
                if result["note"]:
                    notes.append(f"\n{r['shape']}, SCVI at {setting}: {result['note']}.")
        lines += notes
    text = "\n".join(lines) + "\n"
    print(text)
    new = not os.path.exists(args.results)
    with open(args.results, "a") as fh:
        if new:
            fh.write(
                "# siVAE training throughput\n\nWritten by `benchmarks/train_throughput.py`.\n"
            )
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
