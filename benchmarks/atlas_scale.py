"""siVAE at atlas scale (issue #8): step throughput and a full run on 1.3M backed cells.

Three parts, each selectable with ``--parts``:

a. **Joint-stage step** (stage 3, the most expensive: every step also runs the
   feature encoder–decoder over all genes) at the LargeBrainAtlas shape: F=27998
   genes, hidden (2048, 1024, 512), K=20, C_red=1000, minibatch 4096, bf16
   autocast. Variants: ``eager``; ``compiled`` (``torch.compile`` of the loss,
   forward + backward, inductor on CUDA); ``compiled+cudagraphs``
   (``mode="reduce-overhead"``); ``cudagraph`` (the whole eager step — forward,
   backward and a capturable Adam — captured once in a CUDA graph and replayed).
   Reports ms/step, cells/s, peak GPU memory and achieved TFLOP/s as % of the
   H100's measured 764 TFLOP/s dense bf16 peak. FLOPs are counted analytically
   (:func:`step_flops`): matmuls only, backward = 2 × forward except the input
   gradients of the two first layers (their inputs are data).
b. The same at the small paper shape: F=2000, hidden (1024, 512, 128), K=2,
   minibatch 1024.
c. **Full three-stage run** (``SIVAE`` API, ``--epochs`` per stage, minibatch 4096)
   on a synthetic 1.3M-cell × 27998-gene sparse CSR ``.h5ad`` opened backed
   (~2000 non-zeros per cell, ~21 GB on disk), written in chunks by
   :func:`write_synthetic_h5ad`. Reports set-up time (gene statistics,
   feature-input subsample), per-stage time and throughput, peak host memory
   (``ru_maxrss``) and peak GPU memory.

The step parts feed pre-made dense minibatches already on the device (they time
compute, not data loading); part c times the real path (backed CSR rows → device
→ dense → standardise). ``--quick`` shrinks every shape so the whole script runs
in under 2 minutes on 2 CPU cores (no CUDA graphs there), so that a regression
shows without a GPU. Results are appended to ``benchmarks/results.md``.

Usage::

    python benchmarks/atlas_scale.py                # GPU: full sizes
    python benchmarks/atlas_scale.py --quick        # CPU smoke run
    python benchmarks/atlas_scale.py --parts a,b --variants eager,cudagraph
"""

import argparse
import datetime
import os
import resource
import sys
import tempfile
import time
from contextlib import nullcontext

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import sivae
import torch
from _stamp import commit, machine, pick_device
from sivae.model._compile import resolve_backend
from sivae.model._module import PresampledNoise, SIVAEModule

PEAK_TFLOPS = 764.0  # H100 dense bf16, measured (DESIGN §6)

STEP_SHAPES = {
    "a": {"name": "LargeBrainAtlas", "F": 27998, "hidden": (2048, 1024, 512), "K": 20},
    "b": {"name": "paper small", "F": 2000, "hidden": (1024, 512, 128), "K": 2},
}
STEP_SHAPES["a"].update(C=1000, batch=4096)
STEP_SHAPES["b"].update(C=1000, batch=1024)
QUICK_STEP_SHAPES = {
    "a": {"name": "LargeBrainAtlas (quick)", "F": 2000, "hidden": (256, 128, 64), "K": 20},
    "b": {"name": "paper small (quick)", "F": 500, "hidden": (128, 64, 32), "K": 2},
}
QUICK_STEP_SHAPES["a"].update(C=200, batch=256)
QUICK_STEP_SHAPES["b"].update(C=200, batch=128)
RUN_SHAPE = {
    "cells": 1_300_000,
    "genes": 27998,
    "nnz": 2000,
    "hidden": (2048, 1024, 512),
    "K": 20,
    "C": 1000,
    "batch": 4096,
}
QUICK_RUN_SHAPE = {
    "cells": 8000,
    "genes": 1000,
    "nnz": 100,
    "hidden": (128, 64, 32),
    "K": 20,
    "C": 200,
    "batch": 512,
}
VARIANTS = ("eager", "compiled", "compiled+cudagraphs", "cudagraph")


# --------------------------------------------------------------------- FLOPs
def mlp_flops(n_rows: int, sizes: list[int]) -> int:
    """Forward matmul FLOPs (2·m·n·k) of a chain of dense layers ``sizes[0] → ... → sizes[-1]``."""
    return sum(2 * n_rows * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def step_flops(n_cells: int, n_genes: int, hidden, n_latent: int, n_feature_input: int) -> int:
    """Matmul FLOPs of one joint (stage-3) training step: forward + backward.

    Forward: cell encoder ``F → h1 → h2 → h3 → (mean, std)``, cell decoder
    ``K → h3 → h2 → y=h1`` with the cell scale head ``h1 → 1``, output
    ``y Wᵀ`` (N×h1 by h1×F), the interpretability fit ``z vᵀ`` (N×K by K×F), and
    the feature encoder / decoder on all F genes (input ``C_red``). Backward is
    twice the forward except that the first layers of both encoders need no
    input gradient. Element-wise ops (softplus, likelihood, Adam) are ignored.
    """
    h = list(hidden)
    enc = lambda n, d_in: mlp_flops(n, [d_in, *h]) + 2 * mlp_flops(n, [h[-1], n_latent])  # noqa: E731
    dec = lambda n: mlp_flops(n, [n_latent, *reversed(h[1:]), h[0]])  # noqa: E731
    cell = enc(n_cells, n_genes) + dec(n_cells) + mlp_flops(n_cells, [h[0], 1])
    products = 2 * n_cells * h[0] * n_genes + 2 * n_cells * n_latent * n_genes
    feature = enc(n_genes, n_feature_input) + dec(n_genes)
    forward = cell + products + feature
    no_input_grad = 2 * n_cells * n_genes * h[0] + 2 * n_genes * n_feature_input * h[0]
    return 3 * forward - no_input_grad


# --------------------------------------------------------------------- step benchmark
class JointStep:
    """One stage-3 step of :class:`SIVAEModule` on pre-made device batches.

    ``variant`` picks how it runs (see the module docstring). The noise is drawn
    outside the loss and passed in (:class:`PresampledNoise`), as in the library's
    compiled path, so that every variant can be captured or compiled.
    """

    def __init__(self, shape: dict, device: torch.device, variant: str, bf16: bool) -> None:
        torch.manual_seed(0)
        self.device, self.variant, self.shape = device, variant, shape
        n, f, k = shape["batch"], shape["F"], shape["K"]
        module = SIVAEModule(f, k, n_feature_input=shape["C"], hidden=shape["hidden"])
        module.feature_input.copy_(torch.randn(f, shape["C"]))
        self.module = module.to(device).train()
        params = module.stage_parameters(3)
        cuda = device.type == "cuda"
        self.optimizer = torch.optim.Adam(
            params,
            lr=1e-3,
            fused=cuda and variant != "cudagraph",
            foreach=None if cuda and variant != "cudagraph" else True,
            capturable=variant == "cudagraph",
        )
        # graph capture needs autocast's weight cache off
        self.autocast = (
            torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=variant != "cudagraph")
            if bf16
            else nullcontext()
        )
        self.noise_dtype = torch.bfloat16 if bf16 else torch.float32
        gen = torch.Generator(device=device).manual_seed(0)
        self.batches = [torch.randn(n, f, generator=gen, device=device) for _ in range(4)]
        self.static = {
            "x": self.batches[0].clone(),
            "eps_z": torch.zeros(n, k, device=device, dtype=self.noise_dtype),
            "eps_v": torch.zeros(f, k, device=device, dtype=self.noise_dtype),
            "beta": torch.ones((), device=device),
        }
        self.loss = self._loss
        if variant in ("compiled", "compiled+cudagraphs"):
            mode = "reduce-overhead" if variant == "compiled+cudagraphs" else None
            backend = resolve_backend(True, device)
            self.loss = torch.compile(
                self._loss, backend=backend, mode=mode, dynamic=False, fullgraph=True
            )
        self.graph = None

    def _loss(self, x, eps_z, eps_v, beta):
        s = x.new_zeros((x.shape[0], 0))
        losses = self.module.cell_loss(
            x, x, s, None, beta, joint=True, generator=PresampledNoise((eps_z, eps_v))
        )
        return losses["total"]

    def _eager_step(self, x, eps_z, eps_v, beta):
        # set_to_none also inside the graph: backward then allocates grads in its pool
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast:
            loss = self.loss(x, eps_z, eps_v, beta)
        loss.backward()
        self.optimizer.step()
        return loss

    def _capture(self) -> None:
        """Warm up on a side stream, then capture forward + backward + Adam in one graph."""
        st = self.static
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._eager_step(st["x"], st["eps_z"], st["eps_v"], st["beta"])
        torch.cuda.current_stream().wait_stream(side)
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_loss = self._eager_step(st["x"], st["eps_z"], st["eps_v"], st["beta"])

    def __call__(self, i: int) -> torch.Tensor:
        x = self.batches[i % len(self.batches)]
        n, f, k = self.shape["batch"], self.shape["F"], self.shape["K"]
        eps_z = torch.randn(n, k, device=self.device, dtype=self.noise_dtype)
        eps_v = torch.randn(f, k, device=self.device, dtype=self.noise_dtype)
        beta = torch.ones((), device=self.device)
        if self.variant != "cudagraph":
            return self._eager_step(x, eps_z, eps_v, beta)
        if self.graph is None:
            self._capture()
        st = self.static
        st["x"].copy_(x)
        st["eps_z"].copy_(eps_z)
        st["eps_v"].copy_(eps_v)
        self.graph.replay()
        return self.static_loss


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_step(shape, device, variant, bf16, warmup, steps) -> dict:
    row = {"shape": shape["name"], "variant": variant, "batch": shape["batch"]}
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        tic = time.perf_counter()
        step = JointStep(shape, device, variant, bf16)
        for i in range(warmup):
            step(i)
        sync(device)
        row["warmup_s"] = time.perf_counter() - tic
        tic = time.perf_counter()
        for i in range(steps):
            loss = step(warmup + i)
        sync(device)
        seconds = (time.perf_counter() - tic) / steps
        if not torch.isfinite(loss.detach()).all():
            raise FloatingPointError("non-finite loss")
    except Exception as err:  # one failing variant must not hide the others
        row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
        return row
    flops = step_flops(shape["batch"], shape["F"], shape["hidden"], shape["K"], shape["C"])
    row.update(
        ms=1e3 * seconds,
        cells_per_s=shape["batch"] / seconds,
        tflops=flops / seconds / 1e12,
        step_tflop=flops / 1e12,
    )
    row["peak_pct"] = 100 * row["tflops"] / PEAK_TFLOPS
    if device.type == "cuda":
        row["gpu_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    del step
    return row


# --------------------------------------------------------------------- full run
def _synthetic_rows(n: int, n_genes: int, nnz_per_cell: int, seed: int):
    """CSR pieces ``(row_nnz, columns, values)`` of ``n`` synthetic cells."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_genes + 1) ** 0.5
    cdf = np.cumsum(popularity / popularity.sum())
    cols = np.minimum(np.searchsorted(cdf, rng.random((n, nnz_per_cell))), n_genes - 1)
    cols.sort(axis=1)
    keep = np.ones_like(cols, dtype=bool)
    keep[:, 1:] = cols[:, 1:] != cols[:, :-1]
    row_nnz = keep.sum(axis=1)
    values = (1 + rng.poisson(1.0, size=int(row_nnz.sum()))).astype(np.float32)
    return row_nnz, cols[keep].astype(np.int32), values


def write_synthetic_h5ad(
    path: str,
    n_cells: int,
    n_genes: int,
    nnz_per_cell: int,
    seed: int = 0,
    chunk: int = 20000,
    workers: int = 1,
) -> None:
    """Write a cells × genes CSR count matrix to an ``.h5ad`` in row chunks.

    Each cell draws ``nnz_per_cell`` gene indices with replacement from a
    power-law gene popularity (duplicates merged, so slightly fewer non-zeros)
    and counts ``1 + Poisson(1)``. Chunk ``i`` is drawn with seed ``(seed, i)``
    (the same file for any ``workers``), ``workers`` processes draw chunks while
    this one writes; memory stays at a few chunks.
    """
    from concurrent.futures import ProcessPoolExecutor

    starts = list(range(0, n_cells, chunk))
    jobs = [
        (min(chunk, n_cells - s), n_genes, nnz_per_cell, [seed, i]) for i, s in enumerate(starts)
    ]
    with h5py.File(path, "w") as f, ProcessPoolExecutor(max(1, workers)) as pool:
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
        group = f.create_group("X")
        group.attrs["encoding-type"], group.attrs["encoding-version"] = "csr_matrix", "0.1.0"
        group.attrs["shape"] = (n_cells, n_genes)
        opts = {"maxshape": (None,), "chunks": (1 << 20,)}
        data = group.create_dataset("data", shape=(0,), dtype="f4", **opts)
        indices = group.create_dataset("indices", shape=(0,), dtype="i4", **opts)
        indptr = np.zeros(n_cells + 1, dtype=np.int64)
        pieces = (
            pool.map(_synthetic_rows, *zip(*jobs, strict=True))
            if workers > 1
            else (_synthetic_rows(*job) for job in jobs)
        )
        for start, (row_nnz, cols, values) in zip(starts, pieces, strict=True):
            n = row_nnz.size
            offset = int(indptr[start])
            indptr[start + 1 : start + n + 1] = offset + np.cumsum(row_nnz)
            end = int(indptr[start + n])
            data.resize((end,))
            indices.resize((end,))
            data[offset:end] = values
            indices[offset:end] = cols
        group.create_dataset("indptr", data=indptr)
        obs = pd.DataFrame(index=pd.Index([f"c{i}" for i in range(n_cells)]))
        var = pd.DataFrame(index=pd.Index([f"g{j}" for j in range(n_genes)]))
        ad.io.write_elem(f, "obs", obs)
        ad.io.write_elem(f, "var", var)


def full_run(
    shape: dict, device: torch.device, path: str, compile: bool, epochs: int = 1, workers: int = 1
) -> dict:
    row = {"cells": shape["cells"], "genes": shape["genes"], "batch": shape["batch"]}
    row["epochs"] = epochs
    if not os.path.exists(path):
        tic = time.perf_counter()
        write_synthetic_h5ad(path, shape["cells"], shape["genes"], shape["nnz"], workers=workers)
        row["write_s"] = time.perf_counter() - tic
    else:
        row["write_s"] = 0.0  # reused
    row["file_gb"] = os.path.getsize(path) / 1e9
    with h5py.File(path, "r") as f:
        row["nnz_per_cell"] = float(f["X/indptr"][-1]) / shape["cells"]
    adata = ad.read_h5ad(path, backed="r")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    tic = time.perf_counter()
    sivae.SIVAE.setup_anndata(adata, scale=True)
    model = sivae.SIVAE(
        adata,
        n_latent=shape["K"],
        hidden=shape["hidden"],
        n_feature_input=shape["C"],
        feature_input="subsample",
        seed=0,
    )
    row["setup_s"] = time.perf_counter() - tic
    tic = time.perf_counter()
    model.train(
        max_epochs=epochs,
        feature_epochs=epochs,
        joint_epochs=epochs,
        batch_size=shape["batch"],
        feature_batch_size=shape["batch"],
        device=str(device),
        progress_bar=False,
        compile=compile,
    )
    row["train_s"] = time.perf_counter() - tic
    h = model.history
    for stage in (1, 2, 3):
        seconds = float(h.loc[h.stage == stage, "time_s"].sum())
        items = (shape["genes"] if stage == 2 else shape["cells"]) * epochs
        row[f"stage{stage}_s"] = seconds
        row[f"stage{stage}_per_s"] = items / seconds
    # training outside the epochs' loops: copying the matrix to the device, outputs
    row["load_s"] = row["train_s"] - float(h["time_s"].sum())
    row["final_total"] = float(h["total"].iloc[-1])
    row["host_maxrss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if device.type == "cuda":
        row["gpu_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return row


# --------------------------------------------------------------------- report


def step_table(rows: list[dict]) -> list[str]:
    lines = [
        "| shape | variant | batch | ms/step | cells/s | TFLOP/step | TFLOP/s | % of 764 | "
        "GPU GiB | warm-up s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['variant']} | {r['batch']} | failed: {r['error']} |")
            continue
        mem = f"{r['gpu_mem_gib']:.1f}" if "gpu_mem_gib" in r else "—"
        lines.append(
            f"| {r['shape']} | {r['variant']} | {r['batch']} | {r['ms']:.2f} | "
            f"{r['cells_per_s']:.0f} | {r['step_tflop']:.4g} | {r['tflops']:.3g} | "
            f"{r['peak_pct']:.2g} | {mem} | {r['warmup_s']:.1f} |"
        )
    return lines


def run_table(r: dict) -> list[str]:
    mem = f"{r['gpu_mem_gib']:.1f}" if "gpu_mem_gib" in r else "—"
    return [
        "| cells × genes | nnz/cell | file GB | write s | set-up s | to device s | epochs/stage | "
        "stage 1 cells/s | stage 2 genes/s | stage 3 cells/s | train s (total) | "
        "host peak GiB | GPU GiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {r['cells']} × {r['genes']} | {r['nnz_per_cell']:.0f} | {r['file_gb']:.2f} | "
        f"{r['write_s']:.1f} | {r['setup_s']:.1f} | {r['load_s']:.1f} | {r['epochs']} | "
        f"{r['stage1_per_s']:.0f} | {r['stage2_per_s']:.0f} | {r['stage3_per_s']:.0f} | "
        f"{r['train_s']:.1f} | {r['host_maxrss_gib']:.2f} | {mem} |",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="CPU-sized shapes (< 2 min)")
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("--data", default=None, help="synthetic .h5ad for part c (reused)")
    parser.add_argument("--compile-run", action="store_true", help="part c with compile=True")
    parser.add_argument("--cells", type=int, default=None, help="part c: cells (default 1.3M)")
    parser.add_argument("--epochs", type=int, default=1, help="part c: epochs per stage")
    parser.add_argument("--workers", type=int, default=1, help="part c: processes writing data")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "results.md"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    bf16 = args.precision == "bf16" or (args.precision == "auto" and cuda)
    parts = set(args.parts.split(","))
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {VARIANTS}")
    if not cuda:
        skipped = [v for v in variants if "cudagraph" in v]
        variants = [v for v in variants if "cudagraph" not in v]
        if skipped:
            print(f"no CUDA: skipping {skipped}")
    shapes = QUICK_STEP_SHAPES if args.quick else STEP_SHAPES
    warmup, steps = (3, args.steps or 5) if args.quick else (10, args.steps or 30)

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    mode = "quick (CPU-reduced sizes)" if args.quick else "full sizes"
    lines = [
        f"\n## atlas_scale — {stamp} — {device.type} — {mode} — commit {commit()}\n",
        f"Machine: {machine()}; torch threads {torch.get_num_threads()}; "
        f"{'bf16 autocast' if bf16 else 'fp32'}; compile backend "
        f"{resolve_backend(True, device)}.\n",
    ]
    rows = []
    for part in ("a", "b"):
        if part not in parts:
            continue
        shape = shapes[part]
        for variant in variants:
            row = time_step(shape, device, variant, bf16, warmup, steps)
            print(row, flush=True)
            rows.append(row)
    if rows:
        lines += [
            "Joint-stage (stage 3) training step; matmul FLOPs counted analytically; "
            f"{steps} timed steps after {warmup} warm-up.\n",
            *step_table(rows),
            "",
        ]
    if "c" in parts:
        shape = dict(QUICK_RUN_SHAPE if args.quick else RUN_SHAPE)
        if args.cells:
            shape["cells"] = args.cells
        path = args.data
        tmp = None
        if path is None:
            tmp = tempfile.TemporaryDirectory()
            path = os.path.join(tmp.name, "synthetic.h5ad")
        row = full_run(shape, device, path, args.compile_run, args.epochs, args.workers)
        print(row, flush=True)
        lines += [
            f"Full three-stage run ({args.epochs} epoch(s) per stage, backed CSR .h5ad, hidden "
            f"{shape['hidden']}, K={shape['K']}, C_red={shape['C']}, minibatch {shape['batch']}"
            f"{', compiled' if args.compile_run else ''}):\n",
            *run_table(row),
            "",
        ]
        if tmp is not None:
            tmp.cleanup()
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.results, "a") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
