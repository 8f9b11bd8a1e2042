"""Degree centrality from inferred networks, and the paper's ground truth.

Methods, "Estimating degree centrality using GCN inference methods": a gene's
centrality is its mean edge weight to every other gene. "Estimating the ground
truth degree centrality": for each query gene a neural network predicts all
other genes from that one gene; the centrality is the variance explained on
held-out cells, averaged over the predicted genes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ._batched_mlp import fit_predict_batched, variance_explained
from ._mi import _check_expression, _check_not_constant

logger = logging.getLogger(__name__)

__all__ = ["gcn_degree_centrality", "true_degree_centrality"]


def _gene_index(n_genes: int, gene_names) -> pd.Index:
    if gene_names is None:
        return pd.RangeIndex(n_genes, name="gene")
    index = pd.Index(gene_names, name="gene")
    if len(index) != n_genes:
        raise ValueError(f"{len(index)} gene names given for {n_genes} genes")
    return index


def gcn_degree_centrality(W, gene_names=None) -> pd.Series:
    """Mean weight from each gene to every other gene (diagonal excluded).

    Parameters
    ----------
    W
        ``(n_genes, n_genes)`` weights (CLR, ARACNE, MRNET, symmetrised GRNBoost2).
        For a directed matrix the row is used: symmetrise first if needed.
    gene_names
        Index of the result; default ``0 .. n_genes - 1``.

    Returns
    -------
    ``pd.Series`` named ``"degree_centrality"``, higher = more hub-like.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 2:
        raise ValueError(f"W must be a square genes × genes matrix, got shape {W.shape}")
    n = W.shape[0]
    centrality = (W.sum(axis=1) - np.diag(W)) / (n - 1)
    return pd.Series(centrality, index=_gene_index(n, gene_names), name="degree_centrality")


def true_degree_centrality(
    X,
    hidden: Sequence[int] = (128, 512, 1024),
    epochs: int = 50,
    batch_size: int = 128,
    lr: float = 1e-3,
    test_size: float = 0.2,
    genes: Sequence[int] | None = None,
    query_batch_size: int = 8,
    gene_names=None,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> pd.Series:
    """Ground-truth degree centrality: how well one gene predicts all the others.

    For every query gene ``q`` an MLP ``1 → hidden → n_genes`` (ReLU) is
    trained on the training cells to predict all genes but ``q`` from ``q``
    (MSE; the output for ``q`` itself is masked). On the held-out cells each
    predicted gene ``g`` gets ``1 - Var(x_g - x̂_g) / Var(x_g)``; the centrality
    of ``q`` is the mean over ``g ≠ q``. Inputs and targets are standardised
    with the training cells' mean and sd (variance explained is unchanged by
    this). Query genes are trained ``query_batch_size`` at a time as one
    batched network; results do not depend on that grouping.

    Cost: ``n_query · epochs · n_cells · (Σ layer sizes products + hidden[-1]·n_genes)``;
    the paper's sizes on thousands of genes want a GPU (``device="auto"``), or
    restrict ``genes``.

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression.
    hidden
        Hidden layer sizes (paper: 128, 512, 1024).
    epochs, batch_size, lr
        Adam training schedule.
    test_size
        Fraction of cells held out for the variance explained.
    genes
        Indices of the query genes; default all.
    query_batch_size
        Query genes trained together (memory ∝ this × hidden[-1] × n_genes).
    gene_names
        Index of the result; default ``0 .. n_genes - 1``.
    seed
        Seed of the cell split, the minibatch order and (with the gene index) the weights.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...

    Returns
    -------
    ``pd.Series`` named ``"true_degree_centrality"`` indexed by the query genes.
    """
    X = _check_expression(X).astype(np.float32)
    _check_not_constant(X, gene_names)
    n_cells, n_genes = X.shape
    index = _gene_index(n_genes, gene_names)
    query = np.arange(n_genes) if genes is None else np.asarray(genes, dtype=np.int64)
    if query.size == 0 or query.min() < 0 or query.max() >= n_genes:
        raise ValueError(f"genes must be indices in 0 .. {n_genes - 1}, got {query.tolist()[:10]}")
    train, test = _split_cells(n_cells, test_size, seed)
    X_train, X_test = _standardise(X[train], X[test])

    targets_train = torch.from_numpy(X_train)[None]  # shared by all networks
    result = np.empty(query.size)
    for start in range(0, query.size, query_batch_size):
        q = query[start : start + query_batch_size]
        mask = torch.ones(q.size, 1, n_genes)
        mask[torch.arange(q.size), 0, torch.from_numpy(q)] = 0.0
        prediction = fit_predict_batched(
            torch.from_numpy(X_train[:, q].T.copy())[:, :, None],
            targets_train,
            torch.from_numpy(X_test[:, q].T.copy())[:, :, None],
            hidden=hidden,
            net_seeds=[seed * 1_000_003 + int(g) for g in q],
            target_mask=mask,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
        ).numpy()
        explained = variance_explained(X_test[None], prediction)  # (n_q, n_genes)
        n_undefined = int(np.isnan(explained).sum())
        if n_undefined:
            logger.warning(
                "true_degree_centrality: %d (query, target) pairs skipped: target constant "
                "on the held-out cells",
                n_undefined,
            )
        explained[np.arange(q.size), q] = np.nan  # a gene is not its own target
        result[start : start + q.size] = np.nanmean(explained, axis=1)
    return pd.Series(result, index=index[query], name="true_degree_centrality")


def _split_cells(n_cells: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    order = np.random.default_rng(seed).permutation(n_cells)
    n_test = int(round(test_size * n_cells))
    if n_test < 2 or n_cells - n_test < 2:
        raise ValueError(f"{n_cells} cells are too few for test_size={test_size}")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale both with the training cells' statistics (constant genes: sd 1)."""
    mean = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return ((train - mean) / sd).astype(np.float32), ((test - mean) / sd).astype(np.float32)
