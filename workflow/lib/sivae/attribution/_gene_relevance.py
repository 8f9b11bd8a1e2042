"""Gene Relevance (Angerer et al. 2020), re-implemented after destiny's ``gene_relevance``.

For every cell and each of its ``k`` nearest neighbours **in expression space**
the partial derivative of a gene's expression with respect to embedding
coordinate ``d`` is estimated by the difference quotient
``(x_nn - x_cell) / (e_nn,d - e_cell,d)``; the cell's value is the median over
neighbours. Details follow destiny (R/gene-relevance.r, R/smth-gaussian.r):

- a zero reference expression (possible drop-out) is replaced by
  ``small = min(nonzero x) / #zeros`` so that the quotient is still defined;
- a neighbour with exactly the same expression gives no quotient (NaN); a cell
  needs at least 2 defined quotients, else its partial is NaN;
- per dimension, partials are smoothed along the cells ordered by that
  coordinate with the ``smoother`` package's Gaussian window (default window
  10 % of the cells, ``alpha = 2.5``, tails kept, the kernel renormalised where
  it overhangs the ends). As in R, a NaN or infinite value inside a window makes
  the smoothed value NaN.

Two choices differ from destiny's defaults, both documented parameters:
neighbours are exact (scikit-learn) rather than HNSW-approximate, and ``dims``
defaults to **all** embedding dimensions (destiny: ``1:2``), because attribution
loadings need every dimension.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.signal import fftconvolve
from sklearn.neighbors import NearestNeighbors

logger = logging.getLogger(__name__)

__all__ = ["gene_relevance"]

# smoother package defaults (getOption('smoother.window'), 'smoother.gaussianwindow.alpha').
_DEFAULT_WINDOW = 0.1
_DEFAULT_ALPHA = 2.5
# Elements of the (cells, k, genes) difference block held in memory at once.
_BLOCK_ELEMENTS = 4_000_000


def _window_length(n: int, window: float) -> int:
    length = window * n if 0 < window < 1 else window
    length = int(max(abs(length), 1))
    if n <= length:
        raise ValueError(
            f"Gene Relevance smoothing window of {length} cells must be shorter than the "
            f"{n} cells; lower `smooth` window or pass smooth=False"
        )
    return length


def _gaussian_weights(length: int, alpha: float) -> tuple[np.ndarray, int]:
    """smoother's Gaussian window: weights and the number of cells left of centre."""
    half = length / 2
    left = int(half)
    offsets = np.arange(length) - left
    weights = np.exp(-0.5 * (abs(alpha) * offsets / half) ** 2)
    return weights / weights.sum(), left


def smooth_gaussian(
    values: np.ndarray, window: float = _DEFAULT_WINDOW, alpha: float = _DEFAULT_ALPHA
):
    """Gaussian-window smoothing along axis 0, as ``smth.gaussian(..., tails = TRUE)``.

    Parameters
    ----------
    values
        ``(n,)`` or ``(n, m)``: each column is smoothed independently.
    window
        Window length: a fraction of ``n`` if in (0, 1), else a number of points.
    alpha
        Width parameter of the Gaussian window (larger = narrower).

    Returns
    -------
    np.ndarray
        Same shape as ``values``. Point ``i`` is the weighted mean of points
        ``i - left .. i + length - left - 1`` with the kernel renormalised over the
        points that exist; NaN wherever a non-finite value falls in the window.
    """
    x = np.asarray(values, dtype=np.float64)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    n = x.shape[0]
    length = _window_length(n, window)
    weights, left = _gaussian_weights(length, alpha)
    bad = ~np.isfinite(x)
    clean = np.where(bad, 0.0, x)
    # Correlation with the window = convolution with the reversed window; the
    # output for point i sits at index i + length - 1 - left of the full result.
    kernel = weights[::-1][:, None]
    shift = length - 1 - left
    numerator = fftconvolve(clean, kernel, mode="full", axes=0)[shift : shift + n]
    denominator = np.convolve(np.ones(n), weights[::-1], mode="full")[shift : shift + n]
    smoothed = numerator / denominator[:, None]
    # Exact window test for non-finite values: count them with a cumulative sum.
    csum = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(bad, axis=0)])
    idx = np.arange(n)
    lo = np.clip(idx - left, 0, n)
    hi = np.clip(idx - left + length, 0, n)
    smoothed[(csum[hi] - csum[lo]) > 0] = np.nan
    return smoothed[:, 0] if squeeze else smoothed


def _neighbours(expression: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Indices (cells, k) of each cell's k nearest other cells in expression space."""
    n = expression.shape[0]
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(expression)
    idx = nn.kneighbors(expression, return_distance=False)
    is_self = idx == np.arange(n)[:, None]
    # Duplicated cells may list a twin before themselves: drop self wherever it
    # appears, else the farthest of the k + 1.
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), drop] = False
    return idx[keep].reshape(n, k)


def gene_relevance(
    embedding,
    expression,
    k: int = 20,
    dims: Sequence[int] | None = None,
    smooth: bool | tuple[float, float] = True,
    metric: str = "euclidean",
) -> np.ndarray:
    """Per-cell partial derivatives of gene expression with respect to the embedding.

    Parameters
    ----------
    embedding
        ``(n_cells, K)`` cell coordinates (e.g. siVAE's latent means).
    expression
        ``(n_cells, n_genes)`` expression; the paper used raw counts. Sparse input
        is densified.
    k
        Neighbours per cell (destiny default 20; the paper also used 10, 100, 1000).
    dims
        Embedding columns to differentiate against (0-based). Default: all ``K``.
    smooth
        ``True`` for smoother's defaults (window 0.1 of the cells, alpha 2.5),
        ``False`` to skip smoothing, or ``(window, alpha)``.
    metric
        Distance for the neighbour search: ``"euclidean"`` (destiny default) or
        ``"cosine"``.

    Returns
    -------
    np.ndarray
        ``(n_cells, n_genes, len(dims))`` partial derivatives (float64), NaN where
        undefined (fewer than two usable neighbours, or a NaN within the smoothing
        window). Feeds :func:`~sivae.attribution.attribution_loadings` with
        ``layout="cell_gene_dim"``.
    """
    emb = np.asarray(embedding, dtype=np.float64)
    if sparse.issparse(expression):
        # The neighbour search and the per-neighbour differences need dense rows.
        logger.info("Gene Relevance: densifying a sparse %s expression matrix", expression.shape)
        expression = expression.toarray()
    expr = np.asarray(expression, dtype=np.float64)
    if emb.ndim != 2 or expr.ndim != 2:
        raise ValueError(
            f"embedding and expression must be 2-D; got shapes {emb.shape} and {expr.shape}"
        )
    if emb.shape[0] != expr.shape[0]:
        raise ValueError(
            f"embedding has {emb.shape[0]} cells but expression has {expr.shape[0]}; "
            "rows must be the same cells"
        )
    n_cells, n_genes = expr.shape
    if not (np.isfinite(emb).all() and np.isfinite(expr).all()):
        raise ValueError("embedding and expression must be finite (no NaN/inf)")
    if not 2 <= k < n_cells:
        raise ValueError(f"k must be in [2, n_cells - 1] = [2, {n_cells - 1}], got {k}")
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"unknown metric {metric!r}; choose 'euclidean' or 'cosine'")
    dims = list(range(emb.shape[1])) if dims is None else [int(d) for d in dims]
    bad_dims = [d for d in dims if not 0 <= d < emb.shape[1]]
    if not dims or bad_dims:
        raise ValueError(f"dims {dims} invalid for an embedding with {emb.shape[1]} columns")
    if smooth is True:
        window, alpha = _DEFAULT_WINDOW, _DEFAULT_ALPHA
    elif smooth is False:
        window = alpha = None
    else:
        try:
            window, alpha = (float(v) for v in smooth)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"smooth must be True, False or (window, alpha); got {smooth!r}"
            ) from err

    nn_index = _neighbours(expr, k, metric)
    zeros = expr == 0
    # destiny: a tiny stand-in for a zero reference, so a drop-out cell still has quotients.
    small = expr[~zeros].min() / zeros.sum() if zeros.any() and (~zeros).any() else 0.0
    reference = np.where(zeros, small, expr)
    coord_diff = emb[nn_index][:, :, dims] - emb[:, None, dims]  # (cells, k, dims)

    partials = np.empty((n_cells, n_genes, len(dims)))
    step = max(1, _BLOCK_ELEMENTS // (n_cells * k))
    # Zero coordinate differences give +-inf quotients (as in R); all-NaN rows are masked.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for start in range(0, n_genes, step):
            genes = slice(start, start + step)
            expr_diff = expr[nn_index, genes] - reference[:, None, genes]  # (cells, k, g)
            expr_diff[expr_diff == 0] = np.nan  # no change: partial cannot be evaluated
            for j in range(len(dims)):
                quotients = expr_diff / coord_diff[:, :, j, None]
                defined = (~np.isnan(quotients)).sum(axis=1)
                med = np.full(defined.shape, np.nan)
                stable = defined >= 2
                if stable.any():
                    med[stable] = np.nanmedian(quotients, axis=1)[stable]
                partials[:, genes, j] = med

    n_undefined = int(np.isnan(partials).sum())
    if n_undefined:
        logger.info(
            "Gene Relevance: %d of %d partials undefined before smoothing "
            "(fewer than 2 neighbours with a changed expression)",
            n_undefined,
            partials.size,
        )
    if window is not None:
        for j, d in enumerate(dims):
            order = np.argsort(emb[:, d], kind="stable")
            smoothed = smooth_gaussian(partials[order, :, j], window, alpha)
            partials[order, :, j] = smoothed
        n_nan = int(np.isnan(partials).sum())
        if n_nan > n_undefined:
            logger.warning(
                "Gene Relevance: smoothing spread undefined partials to %d of %d entries",
                n_nan,
                partials.size,
            )
    return partials
