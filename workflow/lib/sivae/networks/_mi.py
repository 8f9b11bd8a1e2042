"""Mutual-information matrices between genes, following R/Bioconductor minet.

``mutual_information`` reproduces minet's ``build.mim``: the default
``"spearman"`` estimator turns rank correlations into the mutual information of
a bivariate Gaussian, ``-½ log(1 - r²)``; ``"empirical"`` is the plug-in
estimator on equal-frequency bins (minet's ``disc="equalfreq"`` with infotheo's
discretiser and ``estimator="mi.empirical"``).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.stats import rankdata

logger = logging.getLogger(__name__)

__all__ = ["mutual_information", "discretize_equalfreq"]

# minet caps r² below 1 so that perfectly correlated pairs give a finite MI.
_R2_CAP = 0.999999
# infotheo pads the last cut point above the maximum by this constant.
_LAST_CUT_PAD = 0.01
_ESTIMATORS = ("spearman", "pearson", "empirical")


def _check_expression(X, name: str = "X") -> np.ndarray:
    """Dense float64 cells × genes matrix with no NaN/Inf and no constant gene."""
    if hasattr(X, "toarray"):  # scipy sparse
        X = X.toarray()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D cells × genes matrix, got shape {X.shape}")
    if X.shape[0] < 3 or X.shape[1] < 2:
        raise ValueError(f"{name} needs at least 3 cells and 2 genes, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(X)).sum())} NaN/Inf values")
    return X


def _check_not_constant(X: np.ndarray, gene_names=None, name: str = "X") -> None:
    constant = np.flatnonzero(np.ptp(X, axis=0) == 0)
    if constant.size:
        labels = constant if gene_names is None else np.asarray(gene_names)[constant]
        shown = ", ".join(map(str, labels[:10])) + (" ..." if constant.size > 10 else "")
        raise ValueError(
            f"{name}: {constant.size} constant gene(s) have no mutual information with any "
            f"other gene: {shown}; filter them out first (e.g. sc.pp.filter_genes)"
        )


def _correlation(X: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns of ``X`` (float64)."""
    centred = X - X.mean(axis=0)
    scaled = centred / np.linalg.norm(centred, axis=0)
    return np.clip(scaled.T @ scaled, -1.0, 1.0)


def discretize_equalfreq(X, nbins: int | None = None) -> np.ndarray:
    """Equal-frequency binning of each gene, as infotheo's ``discretize(disc="equalfreq")``.

    Each column is sorted; with ``N`` cells, ``freq = N // nbins`` and
    ``mod = N % nbins``, the ``i``-th upper cut point is the sorted value at
    position ``(i + 1) * freq - 1`` (shifted by one while ``mod`` lasts, as
    infotheo does), and the last cut is the maximum + 0.01. A value goes to the
    first bin whose cut point is ``>=`` it, so ties never straddle a cut.

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression.
    nbins
        Number of bins; default ``int(sqrt(n_cells))`` (minet's default, truncated
        to an integer as R's ``.Call`` does).

    Returns
    -------
    ``(n_cells, n_genes)`` int array of bin labels in ``0 .. nbins - 1``.
    """
    X = _check_expression(X)
    n_cells = X.shape[0]
    nbins = int(np.sqrt(n_cells)) if nbins is None else int(nbins)
    if not 1 <= nbins <= n_cells:
        raise ValueError(f"nbins must be between 1 and n_cells={n_cells}, got {nbins}")
    ordered = np.sort(X, axis=0)
    freq, mod = divmod(n_cells, nbins)
    positions = np.arange(1, nbins) * freq - 1
    # infotheo shifts the first `mod` cut points one position up (not cumulatively).
    positions[: min(mod, nbins - 1)] += 1
    cuts = np.vstack([ordered[positions], ordered[-1] + _LAST_CUT_PAD])  # (nbins, n_genes)
    bins = np.empty(X.shape, dtype=np.int64)
    for g in range(X.shape[1]):
        bins[:, g] = np.searchsorted(cuts[:, g], X[:, g], side="left")
    return bins


def _empirical_mi_from_bins(bins: np.ndarray) -> np.ndarray:
    """Plug-in MI (nats) between all pairs of discretised genes.

    ``MI = H(X) + H(Y) - H(X, Y)`` with empirical frequencies, computed per
    gene against all later genes at once with one ``bincount`` over the joint
    codes (cost ``O(n_genes² · (n_cells + nbins²))``).
    """
    n_cells, n_genes = bins.shape
    nb = int(bins.max()) + 1

    def xlogx_sum(counts: np.ndarray, axis: int) -> np.ndarray:
        c = counts.astype(np.float64)
        return np.where(c > 0, c * np.log(np.maximum(c, 1)), 0.0).sum(axis=axis)

    marginal = np.stack([np.bincount(bins[:, g], minlength=nb) for g in range(n_genes)])
    h_term = xlogx_sum(marginal, axis=1)  # Σ c log c per gene
    mi = np.zeros((n_genes, n_genes))
    for i in range(n_genes - 1):
        others = bins[:, i + 1 :]
        m = others.shape[1]
        codes = bins[:, [i]] * nb + others + (np.arange(m) * nb * nb)[None, :]
        joint = np.bincount(codes.ravel(), minlength=m * nb * nb).reshape(m, nb * nb)
        value = (xlogx_sum(joint, axis=1) - h_term[i] - h_term[i + 1 :]) / n_cells + np.log(n_cells)
        mi[i, i + 1 :] = value
        mi[i + 1 :, i] = value
    return mi


def mutual_information(
    X, estimator: str = "spearman", nbins: int | None = None, gene_names=None
) -> np.ndarray:
    """Gene × gene mutual-information matrix (minet's ``build.mim``).

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression (dense or scipy sparse).
    estimator
        ``"spearman"`` (minet's default): ``r`` = Spearman correlation (average
        ranks for ties), ``MI = -½ log(1 - min(r², 0.999999))``.
        ``"pearson"``: the same with Pearson's ``r``.
        ``"empirical"``: plug-in MI in nats on equal-frequency bins
        (:func:`discretize_equalfreq`); cost grows as ``n_genes² · n_cells``,
        meant for up to a few hundred genes.
    nbins
        Bins per gene for ``"empirical"``; default ``int(sqrt(n_cells))``.
    gene_names
        Optional names, used only in error messages.

    Returns
    -------
    ``(n_genes, n_genes)`` symmetric float64 matrix, zero diagonal, entries ``>= 0``.

    Raises
    ------
    ValueError
        For an unknown estimator, NaN/Inf values, or constant genes (named).
    """
    if estimator not in _ESTIMATORS:
        raise ValueError(f"unknown MI estimator {estimator!r}; choose one of {_ESTIMATORS}")
    X = _check_expression(X)
    _check_not_constant(X, gene_names)
    if estimator == "empirical":
        mim = _empirical_mi_from_bins(discretize_equalfreq(X, nbins))
    else:
        values = rankdata(X, axis=0) if estimator == "spearman" else X
        r2 = np.minimum(_correlation(values) ** 2, _R2_CAP)
        mim = -0.5 * np.log1p(-r2)
    np.fill_diagonal(mim, 0.0)
    # Rounding can leave tiny negatives (empirical MI of independent genes); minet clips them.
    return np.maximum(mim, 0.0)
