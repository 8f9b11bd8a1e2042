"""Gene neighbourhoods and the neighbour benchmark (sivae.networks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import cdist
from sivae import networks as nw


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny batched networks gain nothing from intra-op threads, and lose on busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_knn_neighbours_match_brute_force():
    emb = np.random.default_rng(0).standard_normal((40, 3))
    got = nw.knn_neighbours(emb, k=5)
    D = cdist(emb, emb)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_array_equal(got, np.argsort(D, axis=1, kind="stable")[:, :5])


def test_knn_neighbours_exclude_self_with_duplicated_points():
    emb = np.array([[0.0], [0.0], [0.0], [5.0], [9.0]])
    got = nw.knn_neighbours(emb, k=2)
    assert all(g not in got[g] for g in range(5))
    assert set(got[0]) == {1, 2}


def test_neighbours_need_k_plus_one_genes():
    with pytest.raises(ValueError, match=r"k=20 neighbours need at least k \+ 1 = 21 genes"):
        nw.knn_neighbours(np.zeros((20, 2)), k=20)
    with pytest.raises(ValueError, match="at least k"):
        nw.top_k_from_weights(np.ones((5, 5)), k=5)


def test_top_k_from_weights_with_ties():
    W = np.array(
        [
            [9.0, 1.0, 3.0, 3.0, 0.0],
            [1.0, 9.0, 2.0, 0.0, 2.0],
            [3.0, 2.0, 9.0, 1.0, 1.0],
            [3.0, 0.0, 1.0, 9.0, 4.0],
            [0.0, 2.0, 1.0, 4.0, 9.0],
        ]
    )
    got = nw.top_k_from_weights(W, k=3)
    # Largest weight first, ties to the lower index, never the gene itself.
    expected = [[2, 3, 1], [2, 4, 0], [0, 1, 3], [4, 0, 2], [3, 1, 2]]
    np.testing.assert_array_equal(got, expected)


def test_jaccard_matrix_matches_sets():
    rng = np.random.default_rng(1)
    a = np.stack([rng.choice(15, 4, replace=False) for _ in range(6)])
    b = np.stack([rng.choice(15, 5, replace=False) for _ in range(7)])
    got = nw.jaccard_matrix(a, b)
    assert got.shape == (6, 7)
    for r in range(6):
        for s in range(7):
            A, B = set(a[r]), set(b[s])
            assert got[r, s] == pytest.approx(len(A & B) / len(A | B))


def test_mean_correlation_matches_pairwise_pearson():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 12))
    X[:, 1] += X[:, 0]
    a = np.array([[0, 1, 2], [3, 4, 5]])
    b = np.array([[1, 6], [7, 3]])
    got = nw.mean_correlation(X, a, b)
    C = np.corrcoef(X, rowvar=False)
    expected = [np.mean([C[i, j] for i in a[r] for j in b[r]]) for r in range(2)]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_query_genes_intersection_of_top_sets():
    genes = list("abcdef")
    cent = {
        "sivae": pd.Series([6, 5, 4, 3, 2, 1], index=genes),
        "clr": pd.Series([1, 6, 5, 4, 3, 2], index=genes),
        "mrnet": pd.Series([5, 4, 6, 1, 2, 3], index=genes),
    }
    # Top 3: sivae {a,b,c}, clr {b,c,d}, mrnet {a,b,c} → {b,c}, in sivae's order.
    assert list(nw.query_genes(cent, top_n=3)) == ["b", "c"]
    cent["bad"] = pd.Series([1.0, 2.0], index=["a", "zzz"])
    with pytest.raises(ValueError, match="cover different genes"):
        nw.query_genes(cent, top_n=3)


def community_data(n_cells=1200, n_genes=12, seed=0):
    """Genes 0-5 share a factor (corr 0.5 pairwise); the other genes are independent noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_cells, n_genes))
    X[:, :6] = np.sqrt(0.5) * rng.standard_normal((n_cells, 1)) + np.sqrt(0.5) * X[:, :6]
    return X


def test_neighbour_prediction_accuracy_matches_regression_and_separates_methods():
    X = community_data(n_cells=2000)
    train, test = X[:1600], X[1600:]
    k = 3
    good = np.array([[j for j in range(6) if j != g][:k] for g in range(12)])
    bad = np.array([[6 + (g + j + 1) % 6 for j in range(k)] for g in range(12)])
    bad[6:] = good[:6]  # only the community genes are queried with `bad` below
    query = np.arange(6)
    table = nw.neighbour_prediction_accuracy(
        train,
        test,
        query,
        {"community": good, "noise": bad},
        gene_names=[f"g{i}" for i in range(12)],
        hidden=(16, 8, 4),
        epochs=30,
        lr=3e-3,
    )
    assert list(table.columns) == ["method", "gene", "variance_explained"]
    assert len(table) == 12 and set(table["gene"]) == {f"g{i}" for i in range(6)}
    # Gaussian data: the best predictor is linear, so compare with least squares.
    ols = []
    for g in query:
        A = np.column_stack([train[:, good[g]], np.ones(len(train))])
        coef = np.linalg.lstsq(A, train[:, g], rcond=None)[0]
        resid = test[:, g] - np.column_stack([test[:, good[g]], np.ones(len(test))]) @ coef
        ols.append(1 - resid.var() / test[:, g].var())
    community = table[table.method == "community"]["variance_explained"].to_numpy()
    noise = table[table.method == "noise"]["variance_explained"].to_numpy()
    # The small 16/8/4 ReLU network reaches the linear optimum on average; single genes
    # vary with the initialisation (its 4-unit bottleneck can lose units).
    assert abs(community.mean() - np.mean(ols)) < 0.03
    assert np.all(community > np.array(ols) - 0.1)
    assert np.all(noise < 0.05)


def test_neighbour_prediction_accuracy_rejects_self_neighbours():
    X = community_data(n_cells=100)
    nb = np.tile(np.arange(3), (12, 1))  # gene 0's neighbours include gene 0
    with pytest.raises(ValueError, match="include the query gene itself"):
        nw.neighbour_prediction_accuracy(X[:80], X[80:], [0], nb, epochs=1)


def test_neighbour_overlap_table_and_sivae_gcn_neighbours():
    X = community_data(n_cells=800, n_genes=40)
    clr = nw.sivae_gcn_neighbours(X, "clr", k=5)
    mrnet = nw.sivae_gcn_neighbours(X, "mrnet", k=5)
    np.testing.assert_array_equal(clr, nw.top_k_from_weights(nw.infer_network(X, "clr"), k=5))
    # Community genes find mostly community genes. Not all: CLR z-scores a noise gene's
    # best (tiny) MI against that gene's own flat background, so it can rank high too.
    in_community = np.isin(clr[:6], np.arange(6)).mean()
    assert in_community >= 0.8
    euc = nw.knn_neighbours(np.corrcoef(X, rowvar=False), k=5)
    table = nw.neighbour_overlap({"euc": euc, "clr": clr, "mrnet": mrnet}, [0, 1], X=X)
    assert list(table.columns) == [
        "method_a",
        "method_b",
        "gene",
        "jaccard",
        "percent_overlap",
        "mean_correlation",
    ]
    assert len(table) == 3 * 2
    row = table[(table.method_a == "clr") & (table.method_b == "mrnet") & (table.gene == 0)]
    inter = len(set(clr[0]) & set(mrnet[0]))
    assert row["percent_overlap"].item() == pytest.approx(100 * inter / 5)
    assert row["jaccard"].item() == pytest.approx(inter / (10 - inter))
