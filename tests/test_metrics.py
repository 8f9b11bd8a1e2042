"""sivae.metrics: k-NN accuracy, silhouette and hub ranking against references."""

import anndata as ad
import numpy as np
import pytest
import scipy.stats as ss
import sivae
from sivae.metrics import hub_ranking_scores, knn_accuracy, silhouette
from sklearn.metrics import balanced_accuracy_score, silhouette_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier


def _blobs(sep, n=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], n)
    centres = np.array([[0, 0], [sep, 0], [0, sep]])
    emb = centres[np.repeat([0, 1, 2], n)] + rng.standard_normal((3 * n, 2))
    return emb, labels


def test_knn_accuracy_matches_manual_cross_validation():
    emb, labels = _blobs(2.0)
    pred = np.empty(labels.size, dtype=object)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=3).split(emb, labels):
        pred[test] = KNeighborsClassifier(15).fit(emb[train], labels[train]).predict(emb[test])
    expected = balanced_accuracy_score(labels, pred.astype(str))
    assert knn_accuracy(emb, labels, k=15, n_splits=5, seed=3) == pytest.approx(expected)


def test_knn_accuracy_separates_signal_from_noise():
    emb, labels = _blobs(12.0)
    assert knn_accuracy(emb, labels) > 0.98
    rng = np.random.default_rng(1)
    noise = knn_accuracy(rng.standard_normal(emb.shape), labels)
    assert abs(noise - 1 / 3) < 0.12


def test_knn_accuracy_is_balanced():
    # 90% class a: predicting "a" everywhere scores 0.5 balanced, not 0.9
    rng = np.random.default_rng(2)
    labels = np.array(["a"] * 180 + ["b"] * 20)
    assert knn_accuracy(rng.standard_normal((200, 2)), labels, k=15) == pytest.approx(0.5, abs=0.08)


def test_silhouette_matches_sklearn_and_bad_input():
    emb, labels = _blobs(5.0)
    assert silhouette(emb, labels) == pytest.approx(silhouette_score(emb, labels))
    with pytest.raises(ValueError, match="NaN"):
        knn_accuracy(np.full((10, 2), np.nan), ["a", "b"] * 5)
    with pytest.raises(ValueError, match="entries"):
        knn_accuracy(emb, labels[:-1])


def test_hub_ranking_scores_against_mann_whitney_and_spearman():
    adata = sivae.datasets.hub_network(
        n_communities=2, community_size=5, n_isolated=4, n_cells=10, seed=0
    )
    degree = np.asarray(adata.varp["adjacency"]).sum(axis=1)
    perfect = hub_ranking_scores(degree.astype(float), adata)
    assert perfect["hub_vs_spoke"] == perfect["spoke_vs_isolated"] == 1.0
    assert perfect["spearman"] == pytest.approx(1.0)  # degree against itself
    reversed_ = hub_ranking_scores(-degree.astype(float), adata)
    assert reversed_["hub_vs_spoke"] == reversed_["spoke_vs_isolated"] == 0.0

    rng = np.random.default_rng(1)
    score = rng.integers(0, 4, adata.n_vars).astype(float)  # ties on purpose
    got = hub_ranking_scores(score, adata)
    hub = adata.var["is_hub"].to_numpy()
    community = adata.var["community"].to_numpy()
    spoke, isolated = (community >= 0) & ~hub, community < 0
    for key, high, low in (("hub_vs_spoke", hub, spoke), ("spoke_vs_isolated", spoke, isolated)):
        u = ss.mannwhitneyu(score[high], score[low]).statistic  # ties count half
        assert got[key] == pytest.approx(u / (high.sum() * low.sum()), abs=1e-12)
    assert got["spearman"] == pytest.approx(ss.spearmanr(score, degree).statistic, abs=1e-12)


def test_hub_ranking_scores_rejects_bad_input():
    adata = sivae.datasets.hub_network(
        n_communities=2, community_size=5, n_isolated=4, n_cells=10, seed=0
    )
    with pytest.raises(ValueError, match="14 finite values, one per gene"):
        hub_ranking_scores(np.zeros(3), adata)
    with pytest.raises(ValueError, match="14 finite values"):
        hub_ranking_scores(np.full(14, np.nan), adata)
    with pytest.raises(ValueError, match="needs a hub network"):
        hub_ranking_scores(np.zeros(5), ad.AnnData(np.zeros((2, 5), dtype=np.float32)))
