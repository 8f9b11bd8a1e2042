"""Embedding quality metrics: cross-validated k-NN accuracy and silhouettes."""

import logging

import numpy as np
from sklearn.metrics import balanced_accuracy_score, silhouette_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

logger = logging.getLogger(__name__)


def _check(embedding, labels) -> tuple[np.ndarray, np.ndarray]:
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.ndim == 1:
        emb = emb[:, None]
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise ValueError(f"embedding must be a non-empty (n, d) array, got shape {emb.shape}")
    if not np.isfinite(emb).all():
        raise ValueError("embedding contains NaN or Inf values")
    lab = np.asarray(labels)
    if lab.shape[0] != emb.shape[0]:
        raise ValueError(f"labels has {lab.shape[0]} entries but embedding has {emb.shape[0]} rows")
    return emb, lab


def knn_accuracy(embedding, labels, k: int = 15, n_splits: int = 5, seed: int = 0) -> float:
    """Balanced accuracy of a k-NN classifier under stratified k-fold cross-validation.

    Each fold's test cells are classified from the training cells' embeddings;
    predictions of all folds are pooled and scored with balanced accuracy (mean
    per-class recall), so rare classes count as much as common ones.

    Parameters
    ----------
    embedding
        ``(n_cells, n_dims)`` coordinates.
    labels
        ``(n_cells,)`` class labels.
    k
        Neighbours (the paper used 80 on the fetal liver, 15 on images).
    n_splits
        Folds. Classes with fewer than ``n_splits`` members are dropped (logged).
    seed
        Shuffles the folds.
    """
    emb, lab = _check(embedding, labels)
    classes, counts = np.unique(lab.astype(str), return_counts=True)
    rare = classes[counts < n_splits]
    if rare.size:
        logger.info(
            "knn_accuracy: dropping %d classes with < %d cells: %s", rare.size, n_splits, list(rare)
        )
        keep = ~np.isin(lab.astype(str), rare)
        emb, lab = emb[keep], lab[keep]
    if np.unique(lab.astype(str)).size < 2:
        raise ValueError("knn_accuracy needs at least two classes with >= n_splits cells")
    lab = lab.astype(str)
    predicted = np.empty_like(lab, dtype=object)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(emb, lab):
        clf = KNeighborsClassifier(n_neighbors=min(k, train.size))
        clf.fit(emb[train], lab[train])
        predicted[test] = clf.predict(emb[test])
    return float(balanced_accuracy_score(lab, predicted.astype(str)))


def silhouette(embedding, labels, metric: str = "euclidean") -> float:
    """Mean silhouette width of ``labels`` in ``embedding`` (sklearn), in [-1, 1]."""
    emb, lab = _check(embedding, labels)
    if np.unique(lab.astype(str)).size < 2:
        raise ValueError("silhouette needs at least two distinct labels")
    return float(silhouette_score(emb, lab.astype(str), metric=metric))
