"""Quality metrics: cross-validated k-NN accuracy and silhouettes of embeddings, and how
well a gene centrality ranks the hubs of a simulated hub network."""

import logging

import anndata as ad
import numpy as np
import scipy.stats as ss
from sklearn.metrics import balanced_accuracy_score, roc_auc_score, silhouette_score
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


def hub_ranking_scores(centrality, adata: ad.AnnData) -> dict[str, float]:
    """How well a per-gene centrality orders hubs > spokes > isolated genes.

    The true degrees of :func:`sivae.datasets.hub_network` are tied (hub 49,
    spoke 1, isolated 0 by default), so the Spearman correlation with the degree
    has a ceiling below 1 (0.671 on the paper's layout); the two AUROCs are
    tie-free.

    Parameters
    ----------
    centrality
        ``(n_genes,)`` score, higher = more central, in the order of ``adata.var``.
    adata
        A hub network: ``varp["adjacency"]``, ``var["community"]`` (``-1``
        isolated) and ``var["is_hub"]``.

    Returns
    -------
    ``spearman`` (with the true degree), ``hub_vs_spoke`` and
    ``spoke_vs_isolated``: the probability that a gene of the first kind scores
    above one of the second (AUROC, ties counted half).
    """
    score = np.asarray(centrality, dtype=np.float64).ravel()
    missing = [k for k in ("community", "is_hub") if k not in adata.var.columns]
    if "adjacency" not in adata.varp or missing:
        raise ValueError(
            "hub_ranking_scores needs a hub network (sivae.datasets.hub_network): "
            f"varp['adjacency'] and var {missing or ['community', 'is_hub']}"
        )
    if score.shape != (adata.n_vars,) or not np.isfinite(score).all():
        raise ValueError(
            f"centrality must be {adata.n_vars} finite values, one per gene; got shape {score.shape}"
        )
    degree = np.asarray(adata.varp["adjacency"]).sum(axis=1)
    community = adata.var["community"].to_numpy()
    hub = adata.var["is_hub"].to_numpy(dtype=bool)
    spoke = (community >= 0) & ~hub
    isolated = community < 0

    def auroc(high: np.ndarray, low: np.ndarray) -> float:
        labels = np.r_[np.ones(high.sum()), np.zeros(low.sum())]
        return float(roc_auc_score(labels, np.r_[score[high], score[low]]))

    return {
        "spearman": float(ss.spearmanr(score, degree).statistic),
        "hub_vs_spoke": auroc(hub, spoke),
        "spoke_vs_isolated": auroc(spoke, isolated),
    }
