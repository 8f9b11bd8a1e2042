"""Preprocessing: QC, normalisation, HVG, regression, downsampling, split, scaling, bins."""

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sivae import pp


def _dense(x):
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def test_qc_filters_cells_and_genes(counts_adata, caplog):
    x = _dense(counts_adata.X)
    n_genes = (x > 0).sum(1)
    mito = x[:, :3].sum(1) / x.sum(1)
    min_genes, max_genes, max_mito = (
        int(np.percentile(n_genes, 10)),
        int(np.percentile(n_genes, 95)),
        float(np.percentile(mito, 90)),
    )
    expected_cells = (n_genes >= min_genes) & (n_genes < max_genes) & (mito < max_mito)
    with caplog.at_level(logging.INFO, logger="sivae.pp"):
        out = pp.qc(
            counts_adata,
            min_genes=min_genes,
            max_genes=max_genes,
            max_mito=max_mito,
            min_cells=5,
            copy=True,
        )
    assert out.n_obs == expected_cells.sum()
    expected_genes = (x[expected_cells] > 0).sum(0) >= 5
    assert list(out.var_names) == list(counts_adata.var_names[expected_genes])
    assert "g59" not in out.var_names  # never detected
    np.testing.assert_allclose(out.obs["mito_fraction"], mito[expected_cells], rtol=1e-6)
    assert counts_adata.n_obs == 300  # copy=True leaves the input alone
    assert "cells removed" in caplog.text and "genes removed" in caplog.text


def test_qc_nothing_left_raises(counts_adata):
    with pytest.raises(ValueError, match="no cells left after QC"):
        pp.qc(counts_adata, min_genes=10_000, dataset="tiny")


def test_normalize_matches_closed_form(counts_adata):
    x = _dense(counts_adata.X).astype(np.float64)
    out = pp.normalize(counts_adata, copy=True)
    expected = np.log1p(x / x.sum(1, keepdims=True) * 1e4)
    np.testing.assert_allclose(_dense(out.X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_dense(out.layers["counts"]), x)


def test_normalize_rejects_negative_counts(counts_adata):
    counts_adata.X = _dense(counts_adata.X)
    counts_adata.X[0, 0] = -1
    with pytest.raises(ValueError, match="negative"):
        pp.normalize(counts_adata, dataset="neg")


def test_gene_mean_var_sparse_equals_dense(counts_adata):
    x = counts_adata.X
    mean_s, var_s = pp.gene_mean_var(x)
    mean_d, var_d = pp.gene_mean_var(_dense(x))
    np.testing.assert_allclose(mean_s, _dense(x).astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(var_s, _dense(x).astype(np.float64).var(0), rtol=1e-10)
    np.testing.assert_allclose(var_d, var_s, rtol=1e-10)


def test_hvg_top_variance_and_group_union(counts_adata):
    adata = pp.normalize(counts_adata, copy=True)
    x = _dense(adata.X).astype(np.float64)
    n_top = 10
    overall = set(np.argsort(-x.var(0), kind="stable")[:n_top])
    out = pp.hvg(adata, n_top_genes=n_top, copy=True)
    assert set(out.var_names) == set(adata.var_names[list(overall)])

    union = set(overall)
    donors = adata.obs["donor"].to_numpy()
    for donor in np.unique(donors):
        union |= set(np.argsort(-x[donors == donor].var(0), kind="stable")[:n_top])
    grouped = pp.hvg(adata, n_top_genes=n_top, group_key="donor", subset=False, copy=True)
    assert set(np.flatnonzero(grouped.var["highly_variable"])) == union
    assert len(union) > n_top  # the union really adds genes here


@pytest.mark.slow
def test_hvg_scanpy_flavor(counts_adata):
    import scanpy as sc

    adata = pp.normalize(counts_adata, copy=True)
    out = pp.hvg(adata, n_top_genes=15, flavor="seurat", copy=True)
    expected = sc.pp.highly_variable_genes(adata, n_top_genes=15, flavor="seurat", inplace=False)
    assert list(out.var_names) == list(adata.var_names[expected["highly_variable"].to_numpy()])


def test_hvg_missing_key(counts_adata):
    adata = pp.normalize(counts_adata, copy=True)
    with pytest.raises(ValueError, match="'nope'"):
        pp.hvg(adata, group_key="nope", dataset="tiny")


def test_regress_out_equals_least_squares_residuals(counts_adata):
    adata = pp.normalize(counts_adata, copy=True)
    x = _dense(adata.X).astype(np.float64)
    out = pp.regress_out(adata, ["pool", "score"], copy=True)
    design = np.column_stack(
        [np.ones(adata.n_obs), (adata.obs["pool"] == "p1").to_numpy(float), adata.obs["score"]]
    )
    coef, *_ = np.linalg.lstsq(design, x, rcond=None)
    np.testing.assert_allclose(_dense(out.X), x - design @ coef, atol=1e-4)


@pytest.mark.slow
def test_regress_out_matches_scanpy(counts_adata):
    # The paper used scanpy.pp.regress_out; our numpy path must give the same residuals.
    adata = pp.normalize(counts_adata, copy=True)
    ours = pp.regress_out(adata, ["pool", "score"], copy=True)
    theirs = pp.regress_out(adata, ["pool", "score"], method="scanpy", copy=True)
    np.testing.assert_allclose(ours.X, theirs.X, atol=1e-4)


def test_regress_out_per_group(counts_adata):
    adata = pp.normalize(counts_adata, copy=True)
    x = _dense(adata.X).astype(np.float64)
    out = pp.regress_out(adata, ["score"], group_key="cell_type", copy=True)
    for group in ["A", "B", "C"]:
        rows = (adata.obs["cell_type"] == group).to_numpy()
        design = np.column_stack([np.ones(rows.sum()), adata.obs["score"][rows]])
        coef, *_ = np.linalg.lstsq(design, x[rows], rcond=None)
        np.testing.assert_allclose(_dense(out.X)[rows], x[rows] - design @ coef, atol=1e-4)


def test_regress_out_per_group_without_the_reference_pool():
    """Lines of the cohort simulation that lack the first pool level have pool
    indicators summing to the intercept (rank-deficient design); their residuals
    must still be the least-squares ones, with zero mean in the line."""
    from sivae.datasets._cohort import cohort

    adata = cohort(n_groups=16, cells_per_group=(400, 500), n_genes=100, module_size=12, seed=1)
    out = pp.regress_out(adata, ["pool"], group_key="group", copy=True)
    x, residuals = _dense(adata.X).astype(np.float64), _dense(out.X)
    group, pool = adata.obs["group"].to_numpy(), adata.obs["pool"].astype(str).to_numpy()
    first = adata.obs["pool"].cat.categories[0]
    assert any(first not in set(pool[group == g]) for g in np.unique(group))
    for g in np.unique(group):
        rows = group == g
        levels = np.unique(pool[rows])
        design = (pool[rows][:, None] == levels[None, :]).astype(float)  # one-hot, no intercept
        coef, *_ = np.linalg.lstsq(design, x[rows], rcond=None)
        np.testing.assert_allclose(residuals[rows], x[rows] - design @ coef, atol=1e-4)
        assert np.abs(residuals[rows].mean(0)).max() < 1e-4


def test_downsample_preserves_proportions(counts_adata):
    out = pp.downsample(counts_adata, 100, stratify_key="cell_type", seed=1, copy=True)
    assert out.n_obs == 100
    # 150/100/50 of 300 -> exactly 50/33/17 by largest remainder (33.3, 33.3, 16.7).
    assert out.obs["cell_type"].value_counts().to_dict() == {"A": 50, "B": 33, "C": 17}
    again = pp.downsample(counts_adata, 100, stratify_key="cell_type", seed=1, copy=True)
    assert list(out.obs_names) == list(again.obs_names)
    assert pp.downsample(counts_adata, 1000, copy=True).n_obs == 300


def test_split_is_stratified(counts_adata):
    out = pp.split(counts_adata, test_size=0.2, stratify_key="cell_type", seed=0, copy=True)
    table = pd.crosstab(out.obs["cell_type"], out.obs["split"])
    assert table["test"].to_dict() == {"A": 30, "B": 20, "C": 10}
    other = pp.split(counts_adata, test_size=0.2, stratify_key="cell_type", seed=1, copy=True)
    assert (out.obs["split"] != other.obs["split"]).any()


def test_scale_drops_constant_genes_and_stores_stats(counts_adata, caplog):
    adata = pp.normalize(counts_adata, copy=True)
    x = _dense(adata.X).astype(np.float64)
    with caplog.at_level(logging.INFO, logger="sivae.pp"):
        out = pp.scale(adata, copy=True)
    assert "g59" not in out.var_names and "constant genes dropped" in caplog.text
    keep = x.std(0) > 0
    np.testing.assert_allclose(out.var["mean"], x[:, keep].mean(0), rtol=1e-6)
    np.testing.assert_allclose(out.var["std"], x[:, keep].std(0), rtol=1e-6)
    assert np.isfinite(out.X).all()
    np.testing.assert_allclose(out.X.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.X.std(0), 1, atol=1e-4)


def test_scale_stats_only_keeps_sparse(counts_adata):
    adata = pp.normalize(counts_adata, copy=True)
    out = pp.scale(adata, scale=False, copy=True)
    assert sp.issparse(out.X)
    dense = pp.scale(adata, copy=True)
    # Standardising later with the stored stats gives the same matrix.
    batch = (_dense(out.X[:50]) - out.var["mean"].to_numpy()) / out.var["std"].to_numpy()
    np.testing.assert_allclose(batch, dense.X[:50], atol=1e-5)


def test_make_bins_and_write(counts_adata, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="sivae.pp"):
        bins = pp.make_bins(counts_adata, "cell_type", bin_size=40, seed=0)
    assert {g: len(b) for g, b in bins.items()} == {"A": 3, "B": 2, "C": 1}
    members = np.concatenate([m for b in bins.values() for m in b])
    assert len(members) == len(set(members)) == 6 * 40
    for group, parts in bins.items():
        for part in parts:
            assert (counts_adata.obs["cell_type"].iloc[part] == group).all()
    assert counts_adata.obs["bin"].isna().sum() == 300 - 240
    assert "leftover cells discarded" in caplog.text
    with caplog.at_level(logging.INFO, logger="sivae.pp"):
        small = pp.make_bins(counts_adata, "cell_type", bin_size=60, seed=0)
    assert set(small) == {"A", "B"} and "'C' dropped" in caplog.text

    manifest = pp.write_bins(counts_adata, bins, tmp_path / "bins", dataset="tiny")
    assert len(manifest) == 6 and (tmp_path / "bins" / "bins.tsv").is_file()
    first = ad.read_h5ad(tmp_path / "bins" / manifest.loc[0, "file"])
    assert first.n_obs == 40 and first.uns["bin"]["group"] == "A"
    assert not list((tmp_path / "bins").glob(".*tmp"))


def test_make_bins_no_full_bin_raises(counts_adata):
    with pytest.raises(ValueError, match="no group of 'cell_type' has at least"):
        pp.make_bins(counts_adata, "cell_type", bin_size=1000, dataset="tiny")


def test_filter_groups(counts_adata, caplog):
    with caplog.at_level(logging.INFO, logger="sivae.pp"):
        out = pp.filter_groups(counts_adata, "cell_type", min_cells=80, copy=True)
    assert out.obs["cell_type"].value_counts().to_dict() == {"A": 150, "B": 100}
    assert "1 groups of 'cell_type' with fewer than 80 cells dropped" in caplog.text
    with pytest.raises(ValueError, match="no group of 'cell_type' has at least 500"):
        pp.filter_groups(counts_adata, "cell_type", min_cells=500, dataset="tiny")


def test_preprocess_runs_steps_in_order_and_accepts_views(counts_adata):
    view = counts_adata[:250]
    steps = {
        "scale": True,
        "hvg": {"n_top_genes": 20},
        "normalize": True,
        "qc": {"min_genes": 1, "min_cells": 1},
        "split": {"stratify_key": "cell_type"},
    }
    out = pp.preprocess(view, steps, dataset="tiny")
    assert out.n_obs == 250 and out.n_vars == 20
    assert "counts" in out.layers and set(out.obs["split"]) == {"train", "test"}
    np.testing.assert_allclose(out.X.std(0), 1, atol=1e-4)
    with pytest.raises(ValueError, match=r"unknown preprocessing step\(s\) \['normalise'\]"):
        pp.preprocess(counts_adata, {"normalise": True}, dataset="tiny")


def _cycling_cells(seed: int = 0, n_cells: int = 300, n_other: int = 400):
    """Log-normalised-like data: a third of cells up in S markers, a third in G2M markers."""
    rng = np.random.default_rng(seed)
    s_genes, g2m_genes = pp.CELL_CYCLE_GENES["S"][:20], pp.CELL_CYCLE_GENES["G2M"][:20]
    names = s_genes + g2m_genes + [f"gene{i}" for i in range(n_other)]
    x = rng.gamma(2.0, 0.5, size=(n_cells, len(names)))
    phase = np.repeat(["G1", "S", "G2M"], n_cells // 3)
    x[phase == "S", : len(s_genes)] += 2.0
    x[phase == "G2M", len(s_genes) : len(s_genes) + len(g2m_genes)] += 2.0
    obs = pd.DataFrame({"true_phase": phase}, index=[f"c{i}" for i in range(n_cells)])
    return ad.AnnData(x.astype(np.float32), obs=obs, var=pd.DataFrame(index=names))


def _scanpy_cell_cycle(adata):
    """The reference: scanpy's scoring with the markers present in ``adata``."""
    import scanpy as sc

    present = set(adata.var_names)
    sc.tl.score_genes_cell_cycle(
        adata,
        s_genes=[g for g in pp.CELL_CYCLE_GENES["S"] if g in present],
        g2m_genes=[g for g in pp.CELL_CYCLE_GENES["G2M"] if g in present],
        random_state=0,
    )


def test_score_cell_cycle_matches_scanpy_and_finds_phases():
    adata = _cycling_cells()
    reference = adata.copy()
    pp.score_cell_cycle(adata, dataset="cc")
    _scanpy_cell_cycle(reference)
    np.testing.assert_allclose(adata.obs["S_score"], reference.obs["S_score"])
    np.testing.assert_allclose(adata.obs["G2M_score"], reference.obs["G2M_score"])
    called, true = adata.obs["phase"].astype(str), adata.obs["true_phase"]
    # cycling cells are called right; G1 cells score ~0 on both and scanpy calls G1
    # only when both scores are negative, so they are not checked by phase
    assert (called[true != "G1"] == true[true != "G1"]).all()
    means = adata.obs.groupby("true_phase", observed=True)[["S_score", "G2M_score"]].mean()
    assert means.loc["S", "S_score"] > 1 > abs(means.loc["G1", "S_score"])
    assert means.loc["G2M", "G2M_score"] > 1 > abs(means.loc["G1", "G2M_score"])
    # mouse-style symbols match the human list
    mouse = _cycling_cells()
    mouse.var_names = [g.capitalize() for g in mouse.var_names]
    pp.score_cell_cycle(mouse, dataset="cc")
    np.testing.assert_allclose(mouse.obs["S_score"], adata.obs["S_score"])


def test_score_cell_cycle_then_regress_out_removes_the_scores():
    adata = pp.score_cell_cycle(_cycling_cells(seed=1), dataset="cc")
    pp.regress_out(adata, ["S_score", "G2M_score"], dataset="cc")
    x = np.asarray(adata.X, dtype=np.float64)
    for key in ("S_score", "G2M_score"):
        score = adata.obs[key].to_numpy() - adata.obs[key].mean()
        assert np.abs(score @ (x - x.mean(0))).max() < 1e-3 * np.abs(x).sum()


def test_score_cell_cycle_too_few_markers_names_dataset():
    adata = _cycling_cells()[:, 38:].copy()  # 2 G2M markers left, no S marker
    with pytest.raises(ValueError, match=r"dataset 'neurdiff'.*at least 5 S marker genes.*found 0"):
        pp.score_cell_cycle(adata, dataset="neurdiff")
    assert "S_score" not in adata.obs


def test_score_cell_cycle_per_group_on_standardised_data():
    """As the original NeurDiff script: each line scored on its own scaled data."""
    import scanpy as sc

    adata = _cycling_cells(seed=2)
    adata.obs["line"] = np.tile(["a", "b"], adata.n_obs // 2)
    adata.X[adata.obs["line"] == "b"] *= 3.0  # a line-specific scale the scaling removes
    pp.score_cell_cycle(adata, group_key="line", standardize=True, dataset="cc")
    for line in ("a", "b"):
        part = adata[adata.obs["line"] == line].copy()
        sc.pp.scale(part)
        _scanpy_cell_cycle(part)
        ours = adata.obs.loc[part.obs_names]
        np.testing.assert_allclose(ours["S_score"], part.obs["S_score"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours["G2M_score"], part.obs["G2M_score"], rtol=1e-4, atol=1e-5)
        assert (ours["phase"].astype(str) == part.obs["phase"].astype(str)).all()
