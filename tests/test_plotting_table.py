"""The paper-versus-ours table: headlines from the paper, ours computed from the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sivae import plotting


def _centrality():
    rng = np.random.default_rng(1)
    true = rng.uniform(size=50)
    siv = true + rng.normal(scale=0.05, size=50)
    clr = rng.uniform(size=50)
    rows = [("siVAE", f"g{i}", s, t) for i, (s, t) in enumerate(zip(siv, true, strict=True))]
    rows += [("CLR", f"g{i}", c, t) for i, (c, t) in enumerate(zip(clr, true, strict=True))]
    table = pd.DataFrame(rows, columns=["method", "gene", "centrality", "true_centrality"])
    return table, spearmanr(siv, true).statistic, spearmanr(clr, true).statistic


def test_figures_table_reads_tsvs_and_computes_ours(tmp_path):
    table, rho_sivae, rho_clr = _centrality()
    tsv = tmp_path / "centrality.tsv"
    table.to_csv(tsv, sep="\t", index=False)
    knn = pd.DataFrame(
        {
            "variant": ["siVAE", "siVAE", "VAE", "VAE"],
            "k": 15,
            "fold": [0, 1, 0, 1],
            "accuracy": [0.5, 0.6, 0.7, 0.7],
        }
    )
    out = plotting.figures_table(
        [
            {
                "panel": "fig5a",
                "dataset": "hub_network",
                "files": [str(tmp_path / "fig5a.png"), str(tsv)],
            },
            {
                "panel": "fig2b",
                "dataset": "pbmc",
                "files": "fig2b.png",
                "tables": {"knn_accuracy": knn},
            },
            {"panel": "fig4b", "dataset": "hub_network", "files": ["fig4b.png"], "note": "K=2"},
        ]
    )
    assert list(out.columns) == ["panel", "dataset", "files", "paper", "ours", "note"]
    assert len(out) == 3
    fig5a = out.set_index("panel").loc["fig5a"]
    assert "0.90" in fig5a["paper"]
    assert f"siVAE ρ = {rho_sivae:.2f}" in fig5a["ours"]
    assert f"median ρ = {rho_clr:.2f}" in fig5a["ours"]
    assert "siVAE 0.55" in out.set_index("panel").loc["fig2b", "ours"]
    assert "VAE 0.70" in out.set_index("panel").loc["fig2b", "ours"]
    fig4b = out.set_index("panel").loc["fig4b"]
    assert fig4b["ours"] == "" and fig4b["note"] == "K=2"


def test_paper_headlines_quote_the_results_text():
    h = plotting.PAPER_HEADLINES
    assert "0.98" in h["fig3a"] and "0.73" in h["fig3a"]
    assert "79.9%" in h["fig5c"]
    assert "2.5 days" in h["fig3b"]
    assert "2.7e-6" in h["fig6e"]


def test_figures_table_missing_file_and_bad_rows(tmp_path):
    with pytest.raises(FileNotFoundError, match="centrality.tsv"):
        plotting.figures_table(
            [{"panel": "fig5a", "dataset": "x", "files": [str(tmp_path / "centrality.tsv")]}]
        )
    with pytest.raises(ValueError, match="dataset"):
        plotting.figures_table([{"panel": "fig5a", "files": []}])


def test_figures_table_timing_and_neighbours():
    timing = pd.DataFrame(
        {
            "method": ["siVAE", "siVAE", "saliency", "saliency"],
            "mode": ["train", "train", "forward", "forward"],
            "K": [10, 20, 10, 20],
            "F": [1000, 1000, 1000, 1000],
            "n_cells": 100,
            "seconds": [86400.0, 2 * 86400.0, 10 * 86400.0, 30 * 86400.0],
            "extrapolated": [False, False, True, True],
            "device": "cpu",
        }
    )
    neighbours = pd.DataFrame(
        {
            "method": ["siVAE"] * 3 + ["CLR"] * 3 + ["ARACNE"] * 3,
            "gene": list("abc") * 3,
            "variance_explained": [0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.5, 0.5, 0.5],
        }
    )
    out = plotting.figures_table(
        [
            {"panel": "fig3b", "dataset": "d", "files": [], "tables": {"timing": timing}},
            {"panel": "fig3c", "dataset": "d", "files": [], "tables": {"timing": timing}},
            {
                "panel": "fig5c",
                "dataset": "d",
                "files": [],
                "tables": {"neighbour_accuracy": neighbours},
            },
        ]
    ).set_index("panel")
    # largest setting K=20: siVAE 2 days, saliency 30 days (extrapolated)
    assert "siVAE 2 days" in out.loc["fig3b", "ours"]
    assert "30 days, extrapolated" in out.loc["fig3b", "ours"]
    # slopes: siVAE 0.1 day per dim, saliency 2 days per dim
    assert "siVAE (train) 0.1" in out.loc["fig3c", "ours"]
    assert "saliency (forward) 2" in out.loc["fig3c", "ours"]
    # mean of per-method medians excluding ARACNE: (80 + 70) / 2
    assert out.loc["fig5c", "ours"].startswith("75.0%")
    assert "ARACNE 50.0%" in out.loc["fig5c", "ours"]


def test_figures_table_finds_real_method_ids_of_a_run():
    """agreement.tsv / timing.tsv of a workflow run name variants (``_forward``, ``_k5``,
    ``VAE+``); Gene Relevance and the fastest attribution must still be found."""
    rng = np.random.default_rng(3)
    methods = ["siVAE", "grad_x_input", "grad_x_input_forward", "deeplift", "gene_relevance_k5"]
    pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1 :]]
    values = rng.uniform(-1, 1, len(pairs))
    agreement = pd.DataFrame(
        [(a, b, v) for (a, b), v in zip(pairs, values, strict=True)],
        columns=["method_a", "method_b", "median_spearman"],
    )
    value = dict(zip(pairs, values, strict=True))
    attribution = ["grad_x_input", "grad_x_input_forward", "deeplift"]
    relevance_vs_attribution = np.median([value[(a, "gene_relevance_k5")] for a in attribution])
    sivae_vs_attribution = np.median([value[("siVAE", a)] for a in attribution])

    timing = pd.DataFrame(
        {
            "method": ["siVAE", "VAE", "VAE+saliency", "VAE+saliency", "VAE+deeplift"],
            "mode": ["training", "training", "reverse", "forward", "reverse"],
            "K": 4,
            "F": 60,
            "n_cells": 300,
            "seconds": [7.0, 2.0, 40.0, 0.5, 44.0],
            "extrapolated": [False, False, True, True, True],
            "device": "cpu",
            "training_seconds": [np.nan, np.nan, 2.0, 2.0, 2.0],
            "total_seconds": [np.nan, np.nan, 42.0, 2.5, 46.0],
        }
    )
    out = plotting.figures_table(
        [
            {"panel": "fig3a", "dataset": "d", "files": [], "tables": {"agreement": agreement}},
            {"panel": "fig3b", "dataset": "d", "files": [], "tables": {"timing": timing}},
        ]
    ).set_index("panel")
    fig3a = out.loc["fig3a", "ours"]
    assert f"siVAE vs DeepLIFT {value[('siVAE', 'deeplift')]:.2f}" in fig3a
    assert f"siVAE vs attribution median {sivae_vs_attribution:.2f}" in fig3a
    assert f"Gene Relevance (k=5) vs attribution median {relevance_vs_attribution:.2f}" in fig3a
    assert f"vs siVAE {value[('siVAE', 'gene_relevance_k5')]:.2f}" in fig3a
    # the paper compares siVAE with VAE training + attribution: total_seconds, forward saliency
    fig3b = out.loc["fig3b", "ours"]
    assert f"siVAE {7.0 / 86400:.3g} days" in fig3b
    assert (
        f"VAE training + fastest attribution VAE+saliency (forward) {2.5 / 86400:.3g} days" in fig3b
    )


def test_overlap_summary_with_a_single_dr_method_says_na_not_nan():
    """Fig. 5d/e: one DR method has no pair within its group (the default config)."""
    pairs = [("siVAE", "CLR", 0.1), ("siVAE", "MRNET", 0.3), ("CLR", "MRNET", 0.5)]
    jaccard = pd.DataFrame(pairs, columns=["method_a", "method_b", "jaccard"])
    out = plotting.figures_table(
        [{"panel": "fig5d", "dataset": "d", "files": [], "tables": {"jaccard": jaccard}}]
    ).set_index("panel")
    ours = out.loc["fig5d", "ours"]
    assert "nan" not in ours
    assert "within DR n/a (needs 2 methods)" in ours
    assert "within GCN 0.50" in ours and "DR vs GCN 0.20" in ours
