"""The paper's network simulation (qpG2Sigma port) and the Fig. 1a toy."""

import numpy as np
import pytest
from sivae.datasets import hub_network, toy_network
from sivae.datasets._simulate import (
    graph_to_covariance,
    htf_completion,
    hub_and_spoke_adjacency,
    random_wishart,
)
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_threaded_blas():
    # 300 × 300 factorisations are far slower multi-threaded on a busy 2-core runner.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _partial_correlation(cov):
    precision = np.linalg.inv(cov)
    d = np.sqrt(np.diag(precision))
    pcor = -precision / np.outer(d, d)
    np.fill_diagonal(pcor, 0.0)
    return pcor


def _edge_and_spoke_means(corr, adjacency, community, is_hub):
    hub_spoke = corr[adjacency == 1].mean()
    spoke_spoke = []
    for c in np.unique(community[community >= 0]):
        spokes = np.flatnonzero((community == c) & ~is_hub)
        block = corr[np.ix_(spokes, spokes)]
        spoke_spoke.append(block[~np.eye(len(spokes), dtype=bool)].mean())
    return hub_spoke, float(np.mean(spoke_spoke))


def test_hub_network_layout_and_metadata():
    adata = hub_network(n_cells=50, seed=0)
    assert adata.shape == (50, 300)
    assert adata.X.dtype == np.float32
    assert list(adata.var_names[:3]) == ["g0", "g1", "g2"]
    assert (adata.var["community"] == -1).sum() == 50
    assert adata.var["is_hub"].sum() == 5
    assert adata.var.loc[adata.var["is_hub"], "degree"].tolist() == [49] * 5
    adjacency = adata.varp["adjacency"]
    assert np.array_equal(adjacency, adjacency.T) and adjacency.trace() == 0
    assert adjacency.sum() == 2 * 5 * 49
    assert np.array_equal(adjacency.sum(1), adata.var["degree"].to_numpy())
    assert adata.uns["hub_network"]["rho"] == 0.6


def test_hub_network_is_deterministic_per_seed():
    a, b, c = (
        hub_network(n_cells=20, seed=3),
        hub_network(n_cells=20, seed=3),
        hub_network(n_cells=20, seed=4),
    )
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.allclose(a.varp["correlation"], c.varp["correlation"])


def test_wishart_moments_match_closed_form():
    # Wishart(df=p, V=P/p): E[W] = P, Var(W_ij) = df (V_ij^2 + V_ii V_jj).
    p, rho, n_draws = 4, 0.5, 2500
    rng = np.random.default_rng(1)
    draws = np.stack([random_wishart(p, rho, rng) for _ in range(n_draws)])
    scale = np.full((p, p), rho)
    np.fill_diagonal(scale, 1.0)
    v = scale / p
    var = p * (v**2 + np.outer(np.diag(v), np.diag(v)))
    z = (draws.mean(0) - scale) / np.sqrt(var / n_draws)
    assert np.abs(z).max() < 4.5
    np.testing.assert_allclose(draws.var(0), var, rtol=0.15)


def test_htf_completion_on_a_graph_with_cycles():
    # Characterisation of the completion (Dempster 1972): W equals S on the diagonal
    # and the edges, and W^-1 is zero off the graph. A 7-cycle with chords plus an
    # isolated node exercises loops, several neighbours and components.
    p = 8
    adjacency = np.zeros((p, p), dtype=int)
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 0), (0, 3), (2, 5)]:
        adjacency[i, j] = adjacency[j, i] = 1
    rng = np.random.default_rng(7)
    a = rng.normal(size=(p, 3 * p))
    s = a @ a.T / (3 * p)
    w = htf_completion(s, adjacency, tol=1e-12)
    on_graph = (adjacency == 1) | np.eye(p, dtype=bool)
    np.testing.assert_allclose(w[on_graph], s[on_graph], rtol=1e-9, atol=1e-10)
    precision = np.linalg.inv(w)
    assert np.abs(precision[~on_graph]).max() < 1e-8
    assert np.all(np.linalg.eigvalsh(w) > 0)


def test_covariance_keeps_wishart_entries_on_edges():
    adjacency, _, _ = hub_and_spoke_adjacency(2, 6, 3)
    corr = graph_to_covariance(adjacency, rho=0.6, seed=11)
    w = random_wishart(adjacency.shape[0], 0.6, np.random.default_rng(11))
    d = np.sqrt(np.diag(w))
    expected = w / np.outer(d, d)
    edges = adjacency == 1
    np.testing.assert_allclose(corr[edges], expected[edges], rtol=1e-10)
    np.testing.assert_allclose(np.diag(corr), 1.0)


@pytest.mark.parametrize(
    "layout, rho, seeds, hub_spoke_range",
    [
        # Paper graph. Over Wishart seeds each seed's mean lies in 0.55-0.62 (see
        # DESIGN §8); a sample correlation of df=300 draws has E ≈ rho.
        ((5, 50, 50), 0.6, range(10), (0.57, 0.63)),
        ((5, 50, 50), 0.3, range(10), (0.27, 0.33)),
        # Small communities: fewer edges per seed, so the seed-average is noisier.
        ((3, 10, 5), 0.6, range(10), (0.55, 0.65)),
        ((3, 10, 5), 0.3, range(10), (0.24, 0.36)),
    ],
)
def test_simulated_correlation_structure(layout, rho, seeds, hub_spoke_range):
    adjacency, community, is_hub = hub_and_spoke_adjacency(*layout)
    non_edge = (adjacency == 0) & ~np.eye(len(community), dtype=bool)
    hub_spoke_means, spoke_spoke_means = [], []
    for seed in seeds:
        corr = graph_to_covariance(adjacency, rho=rho, seed=seed)
        hs, ss = _edge_and_spoke_means(corr, adjacency, community, is_hub)
        hub_spoke_means.append(hs)
        spoke_spoke_means.append(ss)
        # A star is a tree: spoke-spoke correlation is the product along the path.
        for c in range(layout[0]):
            hub = np.flatnonzero((community == c) & is_hub)[0]
            spokes = np.flatnonzero((community == c) & ~is_hub)
            expected = np.outer(corr[hub, spokes], corr[hub, spokes])
            block = corr[np.ix_(spokes, spokes)]
            off = ~np.eye(len(spokes), dtype=bool)
            np.testing.assert_allclose(block[off], expected[off], atol=1e-9)
        isolated = community == -1
        assert np.abs(corr[np.ix_(isolated, ~isolated)]).max() == 0.0
        assert np.abs(_partial_correlation(corr)[non_edge]).max() < 1e-2
    lo, hi = hub_spoke_range
    assert lo <= np.mean(hub_spoke_means) <= hi
    # Spoke-spoke ≈ hub-spoke² (not exactly: mean of products vs square of mean).
    assert abs(np.mean(spoke_spoke_means) - np.mean(hub_spoke_means) ** 2) < 0.03


def test_sampled_cells_follow_the_covariance():
    adata = hub_network(n_cells=5000, seed=0)
    corr = adata.varp["correlation"]
    sample = np.corrcoef(adata.X.T.astype(np.float64))
    # Sampling sd of a correlation is ≤ 1/sqrt(n) ≈ 0.014; 5 sd over 45k pairs.
    assert np.abs(sample - corr).max() < 5 / np.sqrt(5000)
    np.testing.assert_allclose(adata.X.std(0), 1.0, atol=0.06)
    hs, ss = _edge_and_spoke_means(
        sample,
        adata.varp["adjacency"],
        adata.var["community"].to_numpy(),
        adata.var["is_hub"].to_numpy(),
    )
    assert 0.55 < hs < 0.65 and 0.28 < ss < 0.42
    isolated = adata.var["community"].to_numpy() == -1
    assert np.abs(sample[np.ix_(isolated, ~isolated)]).mean() < 0.02


def test_hub_network_rejects_bad_parameters():
    with pytest.raises(ValueError, match="rho"):
        hub_network(rho=1.0, n_cells=10)
    with pytest.raises(ValueError, match="community_size"):
        hub_network(community_size=1, n_cells=10)
    with pytest.raises(ValueError, match="n_cells"):
        hub_network(n_cells=0)


def test_toy_network_modules():
    adata = toy_network(n_cells=4000, seed=0)
    assert adata.shape == (4000, 8)
    assert adata.var["module"].tolist() == ["co-regulated"] * 4 + ["independent"] * 4
    corr = np.corrcoef(adata.X.T.astype(np.float64))
    within = corr[:4, :4][~np.eye(4, dtype=bool)]
    outside = corr[np.triu_indices(8, 1)][np.triu(np.ones((8, 8), bool), 1)[np.triu_indices(8, 1)]]
    assert np.abs(within - 0.64).max() < 0.06  # loading 0.8 -> correlation 0.64
    independent = corr[4:, :][:, np.r_[0:4, 4:8]]
    independent = independent[~np.isclose(independent, 1.0)]
    assert np.abs(independent).max() < 0.07
    assert outside.size == 28
