"""Degree centrality: mean edge weight, and the MLP ground truth (sivae.networks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sivae import networks as nw
from sivae.networks._batched_mlp import variance_explained


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny batched networks gain nothing from intra-op threads, and lose on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_gcn_degree_centrality_is_mean_offdiagonal_weight():
    rng = np.random.default_rng(0)
    W = rng.random((6, 6))
    names = [f"g{i}" for i in range(6)]
    got = nw.gcn_degree_centrality(W, gene_names=names)
    expected = [sum(W[i, j] for j in range(6) if j != i) / 5 for i in range(6)]
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-12)
    assert list(got.index) == names and got.name == "degree_centrality"
    with pytest.raises(ValueError, match="square"):
        nw.gcn_degree_centrality(W[:, :5])


def star_data(n_cells=1500, seed=0):
    """Gene 0 is a hub with spokes 1-4 (corr 0.6); genes 5-6 are isolated."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_cells, 7))
    X[:, 1:5] = 0.6 * X[:, [0]] + 0.8 * X[:, 1:5]
    return X


def test_true_degree_centrality_matches_linear_r2_and_ranks_hub_first():
    # Gaussian data: the best predictor of one gene from another is linear, so the MLP's
    # held-out variance explained should match the squared correlation, averaged over targets.
    X = star_data()
    kwargs = dict(hidden=(16, 16), epochs=40, batch_size=128, lr=3e-3, seed=0, device="cpu")
    got = nw.true_degree_centrality(X, query_batch_size=7, **kwargs)

    order = np.random.default_rng(0).permutation(len(X))
    test = X[np.sort(order[: int(round(0.2 * len(X)))])]
    r2 = np.corrcoef(test, rowvar=False) ** 2
    np.fill_diagonal(r2, np.nan)
    expected = np.nanmean(r2, axis=1)
    np.testing.assert_allclose(got.to_numpy(), expected, atol=0.02)
    assert got.idxmax() == 0  # the hub
    assert got[[1, 2, 3, 4]].min() > got[[5, 6]].max()  # spokes above isolated genes
    assert got.name == "true_degree_centrality"


def test_true_degree_centrality_does_not_depend_on_query_batching():
    X = star_data(n_cells=400)
    kwargs = dict(hidden=(8,), epochs=3, seed=1, device="cpu", genes=[0, 3, 5])
    one = nw.true_degree_centrality(X, query_batch_size=1, **kwargs)
    all_ = nw.true_degree_centrality(X, query_batch_size=3, **kwargs)
    pd.testing.assert_series_equal(one, all_, rtol=1e-4)
    assert list(one.index) == [0, 3, 5]


def test_true_degree_centrality_rejects_bad_input():
    X = star_data(n_cells=50)
    X[:, 6] = 0.0
    with pytest.raises(ValueError, match="constant gene"):
        nw.true_degree_centrality(X, hidden=(4,), epochs=1)
    with pytest.raises(ValueError, match="genes must be indices"):
        nw.true_degree_centrality(X[:, :6], hidden=(4,), epochs=1, genes=[9])


def test_true_degree_centrality_skips_targets_constant_on_the_held_out_cells():
    # A gene expressed only in a few training cells is constant on the held-out cells; after
    # standardising with the training statistics its float32 values keep a rounding-level
    # variance, which used to turn the centrality of every query into about -1e9.
    X = star_data(n_cells=500)
    order = np.random.default_rng(0).permutation(len(X))
    train = np.sort(order[100:])
    X[:, 6] = -0.133
    X[train[:5], 6] = 5.0
    explained = variance_explained(
        np.array([[-0.13300001], [-0.133], [-0.13299999]], dtype=np.float32)[None],
        np.array([[0.1], [0.0], [-0.1]], dtype=np.float32)[None],
    )
    assert np.isnan(explained).all()
    got = nw.true_degree_centrality(X, hidden=(8,), epochs=5, seed=0, device="cpu")
    assert np.isfinite(got).all() and got.abs().max() < 1
    assert got.idxmax() == 0
