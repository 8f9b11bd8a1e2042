"""Training throughput of siVAE per stage (cells/s; genes/s for stage 2).

Two shapes from the paper: the fetal liver atlas (F=2000 genes, hidden
1024/512/128, K=2) and the LargeBrainAtlas (F=27998, hidden 2048/1024/512, K=20,
C_red=1000). Synthetic sparse counts-like data (10 % non-zero, CSR) so that the
minibatch path (CSR → device → dense → standardise) is the real one.

On CPU the step counts are tiny (2 cores are slow at the large shape); on CUDA
the minibatch is 4096 cells with bf16 autocast. Each stage runs ``epochs``
epochs and the first is discarded as warm-up. Results are appended to
``benchmarks/results.md`` with machine, date and commit.

Usage::

    python benchmarks/train_throughput.py [--device auto|cpu|cuda] [--shapes fetal,large]
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys

import anndata as ad
import numpy as np
import scipy.sparse as sp
import sivae
import torch

SHAPES = {
    "fetal": {"n_genes": 2000, "hidden": (1024, 512, 128), "n_latent": 2, "n_feature_input": 10000},
    "large": {
        "n_genes": 27998,
        "hidden": (2048, 1024, 512),
        "n_latent": 20,
        "n_feature_input": 1000,
    },
}


def synthetic(n_cells: int, n_genes: int, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    x = sp.random(n_cells, n_genes, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    x.data = np.log1p(rng.poisson(3.0, size=x.data.size).astype(np.float32) + 1)
    return ad.AnnData(x)


def run_shape(name: str, device: str, epochs: int) -> dict:
    shape = SHAPES[name]
    cuda = device == "cuda"
    batch = 4096 if cuda else 128
    steps = 8 if cuda else (4 if name == "fetal" else 1)
    n_cells = max(batch * steps, shape["n_feature_input"] if name == "fetal" and cuda else 0)
    adata = synthetic(n_cells, shape["n_genes"])
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
    )
    h = model.history
    out = {"shape": name, "device": device, "batch": batch, "n_cells": n_cells}
    for stage in (1, 2, 3):
        timed = h[(h.stage == stage) & (h.epoch > 0)]  # epoch 0 is warm-up
        items = shape["n_genes"] if stage == 2 else n_cells
        out[f"stage{stage}"] = items * len(timed) / timed["time_s"].sum()
    return out


def machine() -> str:
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    else:
        gpu = "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {gpu}, torch {torch.__version__}"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--shapes", default="fetal,large")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per stage (first is warm-up)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "results.md"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    rows = [run_shape(s, device, args.epochs) for s in args.shapes.split(",")]
    try:
        import scvi  # noqa: F401

        peer = "scvi-tools installed; peer comparison not implemented in this script"
    except ImportError:
        peer = "scvi-tools not installed: peer comparison skipped"
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"\n## {stamp} — {device} — commit {commit()}\n",
        f"Machine: {machine()}; torch threads {torch.get_num_threads()}. {peer}.\n",
        "| shape | device | batch | cells | stage 1 cells/s | stage 2 genes/s | stage 3 cells/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['device']} | {r['batch']} | {r['n_cells']} | "
            f"{r['stage1']:.0f} | {r['stage2']:.0f} | {r['stage3']:.0f} |"
        )
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
