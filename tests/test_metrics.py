"""sivae.metrics: k-NN accuracy and silhouette against hand-computed references."""

import numpy as np
import pytest
from sivae.metrics import knn_accuracy, silhouette
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
