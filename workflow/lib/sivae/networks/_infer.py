"""One entry point from an expression matrix to a gene × gene weight matrix."""

from __future__ import annotations

import logging

import numpy as np

from ._gcn import aracne, clr, mrnet
from ._grnboost import grnboost2
from ._mi import mutual_information

logger = logging.getLogger(__name__)

__all__ = ["infer_network", "GCN_METHODS"]

GCN_METHODS = ("clr", "aracne", "mrnet", "grnboost2")


def infer_network(
    X,
    method: str,
    estimator: str = "spearman",
    eps: float = 0.0,
    seed: int = 666,
    n_jobs: int | None = None,
    gene_names=None,
    **gbm_kwargs,
) -> np.ndarray:
    """Infer a symmetric weighted gene network with one of the paper's GCN methods.

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression.
    method
        ``"clr"``, ``"aracne"``, ``"mrnet"`` (minet on the MI matrix of
        ``estimator``, normalised by the maximum) or ``"grnboost2"``.
    estimator
        MI estimator for the minet methods (see :func:`mutual_information`).
    eps
        ARACNE tolerance.
    seed, n_jobs, **gbm_kwargs
        GRNBoost2 options (see :func:`grnboost2`).
    gene_names
        Names used in error messages and by GRNBoost2.

    Returns
    -------
    ``(n_genes, n_genes)`` symmetric non-negative weights, zero diagonal.
    GRNBoost2's directed importances are symmetrised by the maximum of the two
    directions (an edge is as strong as its stronger direction, as in MRNET).
    """
    if method not in GCN_METHODS:
        raise ValueError(f"unknown network method {method!r}; choose one of {GCN_METHODS}")
    if method == "grnboost2":
        W = grnboost2(X, gene_names=gene_names, seed=seed, n_jobs=n_jobs, **gbm_kwargs)
        return np.maximum(W, W.T)
    if gbm_kwargs:
        raise ValueError(f"options {sorted(gbm_kwargs)} only apply to method='grnboost2'")
    M = mutual_information(X, estimator=estimator, gene_names=gene_names)
    if method == "clr":
        return clr(M)
    if method == "aracne":
        return aracne(M, eps=eps)
    return mrnet(M)
