"""Helpers the preprocessing steps share: copy-or-in-place and per-gene moments."""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp


def _maybe_copy(adata: ad.AnnData, copy: bool) -> ad.AnnData:
    if copy:
        return adata.copy()
    if adata.is_view:
        # In-place edits of a view would warn and copy anyway; make it explicit.
        adata._init_as_actual(adata.copy())
    return adata


def gene_mean_var(x, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene (column) mean and variance of a dense or sparse matrix, in float64.

    Sparse input is never densified.

    Returns
    -------
    mean, var
        Arrays of shape ``(n_genes,)``.
    """
    n = x.shape[0]
    if sp.issparse(x):
        x = sp.csr_matrix(x, dtype=np.float64) if x.dtype != np.float64 else x
        mean = np.asarray(x.mean(axis=0)).ravel()
        mean_sq = np.asarray(x.multiply(x).mean(axis=0)).ravel()
        var = np.maximum(mean_sq - mean**2, 0.0)
    else:
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(axis=0)
        var = x.var(axis=0)
    if ddof:
        var = var * n / max(n - ddof, 1)
    return mean, var
