"""CLR, ARACNE and MRNET network inference from a mutual-information matrix.

Vectorised numpy re-implementations of the algorithms in R/Bioconductor
``minet`` (Meyer et al. 2008), checked against its C sources:

- CLR: per gene, mean and sample standard deviation of its MI row without
  the diagonal; ``z = max(0, (M_ij - mean_i) / sd_i)``; weight
  ``sqrt(z_i² + z_j²)``.
- ARACNE: the data-processing inequality removes edge ``(i, j)`` when some
  third gene ``k`` has ``min(M_ik, M_jk) - M_ij > eps``; all removals are
  decided on the original ``M``.
- MRNET: for each gene, greedy maximum-relevance minimum-redundancy selection
  of the others (score ``M_ij - mean_{s in S} M_js``), stopping at the first
  negative score; the network keeps, for each pair, the larger of the two
  scores.

``minet()`` divides its result by the maximum; every function here does the
same unless ``normalize=False``.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["clr", "aracne", "mrnet"]

# Bytes allowed for the (rows, genes, genes) temporary of the ARACNE min-max product.
_ARACNE_BLOCK_BYTES = 64 * 2**20


def _check_mim(M, name: str = "M", symmetric: bool = True) -> np.ndarray:
    M = np.array(M, dtype=np.float64)  # copy: callers' matrices are never modified
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square genes × genes matrix, got shape {M.shape}")
    if M.shape[0] < 3:
        raise ValueError(f"{name} needs at least 3 genes, got {M.shape[0]}")
    if not np.isfinite(M).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(M)).sum())} NaN/Inf values")
    if symmetric and not np.allclose(M, M.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric (a mutual-information matrix)")
    return M


def _normalized(W: np.ndarray, normalize: bool) -> np.ndarray:
    np.fill_diagonal(W, 0.0)
    if normalize:
        top = W.max()
        if top > 0:
            W /= top
        else:
            logger.warning("network has no positive weight; returned unnormalised (all zero)")
    return W


def clr(M, normalize: bool = True) -> np.ndarray:
    """Context likelihood of relatedness (Faith et al. 2007), minet's ``clr``.

    Parameters
    ----------
    M
        ``(n_genes, n_genes)`` symmetric mutual-information matrix.
    normalize
        Divide by the largest weight, as ``minet()`` does.

    Returns
    -------
    ``(n_genes, n_genes)`` symmetric weights, zero diagonal.
    """
    M = _check_mim(M)
    n = M.shape[0]
    off = ~np.eye(n, dtype=bool)
    rows = M[off].reshape(n, n - 1)  # each gene's MI to the others
    mean = rows.mean(axis=1)
    sd = rows.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd[:, None] > 0, (M - mean[:, None]) / sd[:, None], 0.0)
    z = np.maximum(z, 0.0)
    W = np.sqrt(z**2 + z.T**2)
    return _normalized(W, normalize)


def _max_min_product(M: np.ndarray) -> np.ndarray:
    """``D_ij = max_{k ≠ i, j} min(M_ik, M_jk)``, exactly, in blocks of rows.

    min and max only compare values, so the product is computed on the int32
    ranks of the entries of ``M`` (half the memory traffic of float64, and
    exact) and mapped back to values at the end. Only the upper triangle is
    computed: ``D`` is symmetric.
    """
    n = M.shape[0]
    values, ranks = np.unique(M, return_inverse=True)
    dtype = np.int32 if values.size < 2**31 else np.int64
    R = ranks.reshape(n, n).astype(dtype)
    np.fill_diagonal(R, -1)  # k = i or k = j then gives -1 and never wins the max
    D = np.full((n, n), -1, dtype=dtype)
    block = max(1, _ARACNE_BLOCK_BYTES // (R.itemsize * n * n))
    for start in range(0, n, block):
        stop = min(start + block, n)
        D[start:stop, start:] = np.minimum(R[start:stop, None, :], R[None, start:, :]).max(axis=2)
    upper = np.triu(D, 1)
    D = upper + upper.T
    out = values[D]
    np.fill_diagonal(out, -np.inf)
    return out


def aracne(M, eps: float = 0.0, normalize: bool = True) -> np.ndarray:
    """ARACNE (Margolin et al. 2006) data-processing-inequality pruning, minet's ``aracne``.

    Edge ``(i, j)`` is removed when ``max_k min(M_ik, M_jk) - M_ij > eps``, i.e.
    when it is the weakest edge of some triangle by more than ``eps``. Ties are
    kept. Cost ``O(n_genes³)`` in blocked numpy (a few seconds for 2000 genes).

    Parameters
    ----------
    M
        ``(n_genes, n_genes)`` symmetric mutual-information matrix.
    eps
        Tolerance ``>= 0`` (minet's default 0).
    normalize
        Divide by the largest weight, as ``minet()`` does.

    Returns
    -------
    ``(n_genes, n_genes)`` symmetric weights: ``M`` with pruned edges set to 0.
    """
    if not eps >= 0:
        raise ValueError(f"aracne: eps must be >= 0, got {eps}")
    M = _check_mim(M)
    removed = _max_min_product(M) - M > eps
    W = np.where(removed, 0.0, M)
    logger.debug("ARACNE removed %d of %d edges", int(np.triu(removed, 1).sum()), M.size // 2)
    return _normalized(W, normalize)


def mrnet(M, normalize: bool = True) -> np.ndarray:
    """Minimum-redundancy / maximum-relevance network (Meyer et al. 2007), minet's ``mrnet``.

    For every gene ``i`` the other genes are selected greedily: the first is the
    one with the largest ``M_ij``; then, with ``S`` the ``k`` genes selected so
    far, the next maximises ``M_ij - (1/k) Σ_{s in S} M_js``. Selection stops
    after the first negative score. Gene ``j`` then scores ``s_i(j)`` (0 if never
    selected or negative) and the weight is ``max(s_i(j), s_j(i))``. Ties go to
    the lowest index (candidates are compared on ``k`` × score, which is exact for
    exactly representable inputs). All genes run their selections in parallel as
    numpy rows; finished genes are dropped as they stop.

    Parameters
    ----------
    M
        ``(n_genes, n_genes)`` symmetric mutual-information matrix.
    normalize
        Divide by the largest weight, as ``minet()`` does.

    Returns
    -------
    ``(n_genes, n_genes)`` symmetric non-negative weights, zero diagonal.
    """
    M = _check_mim(M)
    n = M.shape[0]
    scores = np.zeros((n, n))
    genes = np.arange(n)  # gene whose selection each working row runs
    running = np.ones(n, dtype=bool)  # rows whose selection has not stopped yet
    relevance = M.copy()
    np.fill_diagonal(relevance, -np.inf)  # a gene never selects itself
    # With k genes selected, `scaled` holds k·(relevance - mean redundancy), updated in place
    # (two passes per step instead of recomputing the score); -inf marks selected genes.
    scaled = np.zeros((n, n))
    for k in range(n - 1):
        rows = np.arange(genes.size)
        score = relevance if k == 0 else scaled
        chosen = np.argmax(score, axis=1)
        best = score[rows, chosen] / max(k, 1)
        live = running & (best > 0)
        scores[genes[live], chosen[live]] = best[live]
        scaled[rows, chosen] = -np.inf
        relevance[rows, chosen] = -np.inf
        scaled += relevance
        scaled -= M[chosen]  # M symmetric: row `chosen` = column `chosen`
        running &= best >= 0  # minet stops right after the first negative score
        n_running = int(running.sum())
        if n_running == 0:
            break
        # Drop finished rows only once in a while: compaction copies two big arrays.
        if n_running < 0.8 * genes.size:
            genes, relevance, scaled = genes[running], relevance[running], scaled[running]
            running = np.ones(genes.size, dtype=bool)
    W = np.maximum(scores, scores.T)
    return _normalized(W, normalize)
