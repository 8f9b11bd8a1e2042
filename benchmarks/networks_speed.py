"""Wall time of the minet-style network inference at the paper's scale.

MI (Spearman) + CLR + ARACNE + MRNET on 2000 genes × 1000 cells with
gene-module structure (target: ≤ 60 s in total on 2 cores). Prints a table and
appends it to ``benchmarks/results.md`` with the machine, date and commit.

Usage::

    python benchmarks/networks_speed.py [--genes 2000] [--cells 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np
from _stamp import commit
from sivae import networks as nw

RESULTS = Path(__file__).with_name("results.md")


def simulated_expression(n_cells: int, n_genes: int, seed: int) -> np.ndarray:
    """Cells × genes with 20 sparse latent modules plus noise (realistic MI structure)."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_cells, 20))
    loadings = rng.standard_normal((20, n_genes)) * (rng.random((20, n_genes)) < 0.1)
    return factors @ loadings + rng.standard_normal((n_cells, n_genes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X = simulated_expression(args.cells, args.genes, args.seed)
    timings = {}
    start = time.perf_counter()
    M = nw.mutual_information(X, estimator="spearman")
    timings["MI (spearman)"] = time.perf_counter() - start
    for name, fn in (("CLR", nw.clr), ("ARACNE", nw.aracne), ("MRNET", nw.mrnet)):
        start = time.perf_counter()
        fn(M)
        timings[name] = time.perf_counter() - start
    total = sum(timings.values())

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"## networks_speed — {datetime.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"machine: {platform.node()} ({platform.processor() or platform.machine()}, "
        f"{cpus} CPUs, load avg {os.getloadavg()[0]:.1f}), commit {commit()}, "
        f"numpy {np.__version__}",
        f"data: {args.cells} cells × {args.genes} genes, seed {args.seed}; target ≤ 60 s total",
        "",
        "| step | seconds |",
        "|---|---|",
        *[f"| {name} | {sec:.2f} |" for name, sec in timings.items()],
        f"| **total** | **{total:.2f}** |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with RESULTS.open("a") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
