"""Network inference: MI estimators, CLR, ARACNE, MRNET, GRNBoost2 (sivae.networks)."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sivae import networks as nw
from sklearn.metrics import roc_auc_score

# ----------------------------------------------------------------------------- references


def naive_clr(M):
    """minet's clr (skipDiagonal = 1) as plain loops, then divided by the max."""
    n = len(M)
    mean, sd = np.zeros(n), np.zeros(n)
    for i in range(n):
        vals = [M[i][j] for j in range(n) if j != i]
        mean[i] = sum(vals) / len(vals)
        sd[i] = math.sqrt(sum((v - mean[i]) ** 2 for v in vals) / (len(vals) - 1))
    W = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                zi = max(0.0, (M[i][j] - mean[i]) / sd[i])
                zj = max(0.0, (M[i][j] - mean[j]) / sd[j])
                W[i, j] = math.sqrt(zi * zi + zj * zj)
    return W / W.max()


def naive_aracne(M, eps):
    """Every triangle: drop its edges that are weaker than both others by more than eps."""
    n = len(M)
    keep = np.ones((n, n), dtype=bool)
    for i, j, k in combinations(range(n), 3):
        edges = {(i, j): M[i][j], (i, k): M[i][k], (j, k): M[j][k]}
        for edge, w in edges.items():
            others = [v for e, v in edges.items() if e != edge]
            if min(others) - w > eps:
                keep[edge] = keep[edge[::-1]] = False
    W = np.where(keep, M, 0.0)
    np.fill_diagonal(W, 0.0)
    return W / W.max()


def naive_mrnet(M):
    """Greedy mRMR per gene in exact rational arithmetic; ties go to the lowest index."""
    n = len(M)
    F = [[Fraction(M[i][j]) for j in range(n)] for i in range(n)]
    S = np.zeros((n, n))
    for i in range(n):
        selected = []
        candidates = [j for j in range(n) if j != i]
        while candidates:
            best, best_j = None, None
            for j in candidates:
                red = sum(F[j][s] for s in selected) / len(selected) if selected else 0
                score = F[i][j] - red
                if best is None or score > best:
                    best, best_j = score, j
            S[i, best_j] = max(float(best), 0.0)
            selected.append(best_j)
            candidates.remove(best_j)
            if best < 0:
                break
    W = np.maximum(S, S.T)
    return W / W.max()


def random_mim(n, rng, integer=False):
    M = rng.integers(0, 5, (n, n)).astype(float) if integer else rng.random((n, n))
    M = np.triu(M, 1)
    return M + M.T


def auroc_edges(W, adjacency):
    iu = np.triu_indices_from(adjacency, 1)
    return roc_auc_score(adjacency[iu], W[iu])


def hub_data(n_communities=4, community_size=20, n_isolated=20, n_cells=2000, seed=0):
    """The paper's hub-and-spoke simulation (smaller), as X and the true adjacency."""
    from sivae.datasets import hub_network

    adata = hub_network(n_communities, community_size, n_isolated, n_cells=n_cells, seed=seed)
    return np.asarray(adata.X, dtype=float), np.asarray(adata.varp["adjacency"]).astype(int)


# ----------------------------------------------------------------------------- MI


def test_spearman_and_pearson_mi_match_scipy_formula():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 5))
    X[:, 1] += X[:, 0]
    X[:, 2] = np.round(X[:, 2])  # ties: average ranks, as R's cor(method="spearman")
    X[:, 3] = X[:, 0] * 2 + 1  # perfectly correlated: r² capped at 0.999999
    for estimator in ("spearman", "pearson"):
        M = nw.mutual_information(X, estimator=estimator)
        r = spearmanr(X).statistic if estimator == "spearman" else np.corrcoef(X, rowvar=False)
        expected = -0.5 * np.log(1 - np.minimum(r**2, 0.999999))
        np.fill_diagonal(expected, 0.0)
        np.testing.assert_allclose(M, expected, rtol=1e-10, atol=1e-12)
    assert M[0, 3] == pytest.approx(-0.5 * np.log(1e-6), rel=1e-6)


def naive_discretize(col, nbins):
    """infotheo's equal-frequency loop, one value at a time."""
    n = len(col)
    s = sorted(col)
    freq, mod = n // nbins, n % nbins
    cuts, split = [], freq - 1
    for _ in range(nbins - 1):
        if mod > 0:
            cuts.append(s[split + 1])
            mod -= 1
        else:
            cuts.append(s[split])
        split += freq
    cuts.append(s[-1] + 0.01)
    return np.array([next(b for b, c in enumerate(cuts) if v <= c) for v in col])


def naive_mi(a, b):
    joint, _, _ = np.histogram2d(a, b, bins=[np.arange(a.max() + 2), np.arange(b.max() + 2)])
    p = joint / joint.sum()
    pa, pb = p.sum(1), p.sum(0)
    return sum(
        p[x, y] * math.log(p[x, y] / (pa[x] * pb[y]))
        for x in range(p.shape[0])
        for y in range(p.shape[1])
        if p[x, y] > 0
    )


def test_empirical_mi_matches_naive_histogram():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((103, 4))  # 103 = 10 bins × 10 + 3: exercises infotheo's `mod`
    X[:, 1] = X[:, 0] + 0.5 * X[:, 1]
    X[:, 2] = np.round(X[:, 2] * 2)  # many ties
    bins = nw.discretize_equalfreq(X)
    assert bins.max() == 9  # int(sqrt(103)) = 10 bins
    for g in range(4):
        np.testing.assert_array_equal(bins[:, g], naive_discretize(X[:, g], 10))
    M = nw.mutual_information(X, estimator="empirical")
    for i, j in combinations(range(4), 2):
        assert M[i, j] == pytest.approx(naive_mi(bins[:, i], bins[:, j]), abs=1e-12)
        assert M[j, i] == M[i, j]
    assert np.all(np.diag(M) == 0)
    # Independent genes sit at the plug-in bias (nbins - 1)² / (2 n); the dependent pair
    # (true MI -½ log(1 - 0.8) = 0.80) sits that far above it.
    bias = 81 / (2 * 103)
    assert abs(M[0, 3] - bias) < 0.15
    assert M[0, 1] - M[0, 3] == pytest.approx(0.80, abs=0.25)


def test_mi_rejects_constant_genes_by_name():
    X = np.random.default_rng(0).standard_normal((20, 4))
    X[:, 2] = 1.5
    with pytest.raises(ValueError, match=r"constant gene\(s\).*geneC"):
        nw.mutual_information(X, gene_names=["geneA", "geneB", "geneC", "geneD"])
    with pytest.raises(ValueError, match="unknown MI estimator"):
        nw.mutual_information(X[:, :2], estimator="kendall")
    with pytest.raises(ValueError, match="NaN"):
        nw.mutual_information(np.full((5, 3), np.nan))


# ----------------------------------------------------------------------------- minet algorithms


@pytest.mark.parametrize("integer", [False, True], ids=["continuous", "ties"])
def test_clr_matches_naive(integer):
    M = random_mim(9, np.random.default_rng(3), integer=integer)
    np.testing.assert_allclose(nw.clr(M), naive_clr(M.tolist()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("integer", "eps"), [(False, 0.0), (False, 0.15), (True, 0.0), (True, 1.0)]
)
def test_aracne_matches_naive(integer, eps):
    M = random_mim(11, np.random.default_rng(4), integer=integer)
    result = nw.aracne(M, eps=eps)
    np.testing.assert_allclose(result, naive_aracne(M.tolist(), eps), rtol=0, atol=0)
    assert (result > 0).sum() < (M > 0).sum()  # something was pruned


def test_aracne_keeps_exact_ties_and_needs_eps_nonnegative():
    # Triangle with two equal weakest edges: neither is strictly weaker than both others.
    M = np.array([[0, 1, 1], [1, 0, 2], [1, 2, 0]], dtype=float)
    np.testing.assert_array_equal(nw.aracne(M, normalize=False), M)
    M[0, 1] = M[1, 0] = 0.5  # now (0, 1) is the strict weakest edge
    assert nw.aracne(M, normalize=False)[0, 1] == 0
    assert nw.aracne(M, eps=0.5, normalize=False)[0, 1] == 0.5  # 1 - 0.5 is not > 0.5
    with pytest.raises(ValueError, match="eps"):
        nw.aracne(M, eps=-1)


@pytest.mark.parametrize("integer", [False, True], ids=["continuous", "ties"])
def test_mrnet_matches_naive(integer):
    M = random_mim(10, np.random.default_rng(5), integer=integer)
    np.testing.assert_allclose(nw.mrnet(M), naive_mrnet(M.tolist()), rtol=1e-12, atol=1e-12)


def test_networks_normalised_symmetric_and_inputs_checked():
    M = random_mim(8, np.random.default_rng(6))
    for fn in (nw.clr, nw.aracne, nw.mrnet):
        W = fn(M)
        assert W.max() == pytest.approx(1.0)
        np.testing.assert_array_equal(W, W.T)
        assert np.all(np.diag(W) == 0) and W.min() >= 0
    with pytest.raises(ValueError, match="symmetric"):
        nw.clr(M + np.triu(np.ones_like(M), 1))
    with pytest.raises(ValueError, match="square"):
        nw.mrnet(np.zeros((3, 4)))


# ----------------------------------------------------------------------------- GRNBoost2


def test_grnboost2_matches_arboreto_per_target_and_finds_regulator():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 6))
    X[:, 1] = 2 * X[:, 0] + 0.3 * rng.standard_normal(300)  # gene 0 drives gene 1
    W = nw.grnboost2(X, n_jobs=1, n_estimators=60)
    W_pool = nw.grnboost2(X, n_jobs=2, n_estimators=60)
    np.testing.assert_allclose(W, W_pool)  # the process pool changes nothing
    assert np.all(np.diag(W) == 0)
    assert np.argmax(W[:, 1]) == 0  # the regulator is the top predictor of its target

    from arboreto.core import SGBM_KWARGS, infer_partial_network

    names = [f"g{i}" for i in range(6)]
    links = infer_partial_network(
        "GBM", {**SGBM_KWARGS, "n_estimators": 60}, X, names, "g1", X[:, 1], seed=666
    )
    for tf, importance in zip(links["TF"], links["importance"], strict=True):
        assert W[names.index(tf), 1] == pytest.approx(importance)


# ----------------------------------------------------------------------------- hub network


@pytest.fixture(scope="module")
def hub():
    return hub_data(n_communities=3, community_size=10, n_isolated=10, n_cells=1000)


@pytest.mark.parametrize("method", ["clr", "aracne", "mrnet", "grnboost2"])
def test_gcn_methods_recover_hub_network_edges(hub, method):
    X, adjacency = hub
    degree = adjacency.sum(axis=1)
    # Few trees keep GRNBoost2 cheap; the top regulator of a spoke is its hub from the start.
    options = {"n_jobs": 2, "n_estimators": 50} if method == "grnboost2" else {}
    W = nw.infer_network(X, method, **options)
    auroc = auroc_edges(W, adjacency)
    centrality = nw.gcn_degree_centrality(W)
    rho = spearmanr(centrality, degree).statistic
    connected = degree > 0  # hubs (degree 9) against spokes (degree 1): no ties
    hub_auroc = roc_auc_score(degree[connected] > 1, centrality[connected])
    print(
        f"{method}: edge AUROC {auroc:.3f}, Spearman(centrality, true degree) {rho:.3f}, "
        f"hub-vs-spoke centrality AUROC {hub_auroc:.3f}"
    )
    assert auroc >= 0.9
    assert rho > 0


def test_hub_network_with_communities_of_unequal_size():
    """``community_size`` per community gives hubs of different degree (issue #4)."""
    from sivae.datasets import hub_network
    from sivae.datasets._simulate import hub_and_spoke_adjacency

    adata = hub_network(n_communities=3, community_size=[3, 6, 11], n_isolated=4, n_cells=50)
    degree = adata.var["degree"].to_numpy()
    hubs = np.flatnonzero(adata.var["is_hub"].to_numpy())
    np.testing.assert_array_equal(hubs, [0, 3, 9])
    np.testing.assert_array_equal(degree[hubs], [2, 5, 10])
    assert (degree[adata.var["community"].to_numpy() < 0] == 0).all()
    assert degree.sum() == 2 * (2 + 5 + 10) and adata.n_vars == 24
    assert adata.uns["hub_network"]["community_size"] == [3, 6, 11]
    # one size for all keeps the paper's layout
    same, _, _ = hub_and_spoke_adjacency(2, [5, 5], 1)
    np.testing.assert_array_equal(same, hub_and_spoke_adjacency(2, 5, 1)[0])
    with pytest.raises(ValueError, match="2 community sizes given for n_communities=3"):
        hub_network(n_communities=3, community_size=[5, 5], n_cells=10)
    with pytest.raises(ValueError, match="community_size must be >= 2"):
        hub_network(n_communities=2, community_size=[5, 1], n_cells=10)
