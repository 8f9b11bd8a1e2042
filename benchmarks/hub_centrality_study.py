"""Issue #4's centrality claim on the hub simulation, over data seeds, model seeds and lengths.

tests/test_science_networks.py asserts one run (1000 cells, rho 0.2, data and model
seed 0, 1000 steps per stage). This script reruns that case over several seeds and
training lengths, scores siVAE's centrality and each GCN method's with
``sivae.metrics.hub_ranking_scores`` (Spearman with the true degree, hub>spoke and
spoke>isolated AUROC), and appends the table to ``benchmarks/results.md`` with machine,
date and commit. Genes are standardised before siVAE sees them; the GCN methods read
the unscaled matrix (their MI is rank-based). One siVAE run takes about 30 s per 1000
steps per stage on one core; ``--jobs`` runs that many at once.

    python benchmarks/hub_centrality_study.py                      # the test's case, 3 x 3 seeds
    python benchmarks/hub_centrality_study.py --cells 300 --rho 0.3 --steps 480 615 1000
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import sivae
import torch
from _stamp import commit, machine, report
from sivae.metrics import hub_ranking_scores
from sivae.networks import gcn_degree_centrality, infer_network

KEYS = ("spearman", "hub_vs_spoke", "spoke_vs_isolated")
BATCH = 128


def simulate(cells: int, rho: float, seed: int):
    """The hub network and its unscaled matrix (float64) for the GCN methods."""
    adata = sivae.datasets.hub_network(n_cells=cells, rho=rho, seed=seed)
    return adata, np.asarray(adata.X, dtype=np.float64)


def sivae_scores(cells, rho, data_seed, model_seed, steps, latent, hidden) -> dict:
    torch.set_num_threads(1)
    adata, _ = simulate(cells, rho, data_seed)
    x = adata.X  # standardised in float32, as the test does: training amplifies rounding
    adata.X = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    model = sivae.SIVAE(adata, n_latent=latent, hidden=hidden, seed=model_seed)
    epochs = max(1, round(steps / -(-cells // BATCH)))  # steps per stage -> epochs
    model.train(max_epochs=epochs, batch_size=BATCH, progress_bar=False, device="cpu")
    return hub_ranking_scores(model.get_degree_centrality().to_numpy(), adata)


def gcn_scores(cells, rho, data_seed, trees, jobs) -> dict[str, dict]:
    adata, x = simulate(cells, rho, data_seed)
    scores = {}
    for method in ("mrnet", "aracne", "clr", "grnboost2"):
        options = {"n_jobs": jobs, "n_estimators": trees} if method == "grnboost2" else {}
        weights = infer_network(x, method, **options)
        scores[method] = hub_ranking_scores(gcn_degree_centrality(weights).to_numpy(), adata)
    return scores


def _cells(values) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--rho", type=float, default=0.2)
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--hidden", default="128,64,32")
    parser.add_argument("--grnboost2-trees", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2, help="siVAE runs at once")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--results", default=str(Path(__file__).with_name("results.md")))
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    stamp = f"{datetime.datetime.now():%Y-%m-%d %H:%M} — commit {commit()}"
    tic = time.perf_counter()

    runs = list(itertools.product(args.steps, args.data_seeds, args.model_seeds))
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {
            run: pool.submit(
                sivae_scores, args.cells, args.rho, run[1], run[2], run[0], args.latent, hidden
            )
            for run in runs
        }
        gcn = {
            d: gcn_scores(args.cells, args.rho, d, args.grnboost2_trees, args.jobs)
            for d in args.data_seeds
        }
        ours = {run: future.result() for run, future in futures.items()}
    for run, s in ours.items():
        values = ", ".join(f"{key} {s[key]:.3f}" for key in KEYS)
        print(f"siVAE steps {run[0]} data seed {run[1]} model seed {run[2]}: {values}")

    lines = [
        f"## hub_centrality_study — {stamp}",
        "",
        f"Machine: {machine()}. hub_network({args.cells} cells, rho {args.rho}), data seeds "
        f"{args.data_seeds}; siVAE K={args.latent}, hidden {hidden}, minibatch {BATCH}, genes "
        f"standardised, model seeds {args.model_seeds} (one value per model seed, data seeds "
        f"separated by `;`); GRNBoost2 with {args.grnboost2_trees} trees. Total "
        f"{time.perf_counter() - tic:.0f} s.",
        "",
        "| method | Spearman with degree | hub>spoke AUROC | spoke>isolated AUROC |",
        "|---|---|---|---|",
    ]
    for steps in args.steps:
        row = [f"siVAE, {steps} steps per stage"]
        for key in KEYS:
            per_data = [
                _cells(ours[(steps, d, m)][key] for m in args.model_seeds) for d in args.data_seeds
            ]
            row.append("; ".join(per_data))
        lines.append("| " + " | ".join(row) + " |")
    for method in ("mrnet", "aracne", "clr", "grnboost2"):
        row = [method] + [_cells(gcn[d][method][key] for d in args.data_seeds) for key in KEYS]
        lines.append("| " + " | ".join(row) + " |")
    best = {key: max(gcn[d][m][key] for d in args.data_seeds for m in gcn[d]) for key in KEYS}

    def count(better) -> str:
        return ", ".join(
            f"{key} {sum(better(ours[r][key], max(gcn[r[1]][m][key] for m in gcn[r[1]])) for r in runs)}"
            for key in KEYS
        )

    lines += [
        "",
        f"Of {len(runs)} siVAE runs, ahead of every GCN method on the same data: "
        f"{count(lambda a, b: a > b)}; not behind any: {count(lambda a, b: a >= b)}. "
        "Best GCN value over data seeds: "
        + ", ".join(f"{key} {best[key]:.3f}" for key in KEYS)
        + ".",
    ]
    report("\n".join(lines) + "\n", None if args.no_write else args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
