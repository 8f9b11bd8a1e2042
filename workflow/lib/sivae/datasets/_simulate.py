"""Simulated single-cell data with a known gene co-expression network.

``hub_network`` reproduces the paper's simulation (Methods, "Generation of
simulated scRNA-seq datasets from a gene network"): communities in a
hub-and-spoke layout plus isolated genes, a covariance matrix whose inverse is
zero on every non-edge (a numpy port of qpgraph's ``qpG2Sigma``), and cells
drawn from the resulting multivariate Gaussian.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

logger = logging.getLogger(__name__)

__all__ = [
    "hub_and_spoke_adjacency",
    "random_wishart",
    "htf_completion",
    "graph_to_covariance",
    "hub_network",
    "toy_network",
]


def hub_and_spoke_adjacency(
    n_communities: int = 5, community_size: int | Sequence[int] = 50, n_isolated: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency of communities whose first gene (the hub) links to all others.

    Parameters
    ----------
    n_communities
        Number of communities.
    community_size
        Genes per community (hub included): one int for all, or one int per
        community (``n_communities`` of them) for hubs of different degrees.
    n_isolated
        Genes without edges, placed after the communities.

    Returns
    -------
    adjacency
        ``(p, p)`` int8 0/1 symmetric matrix, zero diagonal,
        ``p = sum of community sizes + n_isolated``.
    community
        ``(p,)`` int community index, ``-1`` for isolated genes.
    is_hub
        ``(p,)`` bool, ``True`` for the first gene of each community.
    """
    sizes = _community_sizes(n_communities, community_size)
    if n_isolated < 0:
        raise ValueError("hub_network: n_communities and n_isolated must be >= 0")
    p = int(sizes.sum()) + n_isolated
    if p == 0:
        raise ValueError("hub_network: the network has no genes")
    adjacency = np.zeros((p, p), dtype=np.int8)
    community = np.full(p, -1, dtype=np.int64)
    is_hub = np.zeros(p, dtype=bool)
    starts = np.cumsum(sizes) - sizes
    for c, (start, size) in enumerate(zip(starts, sizes, strict=True)):
        members = np.arange(start, start + size)
        community[members] = c
        is_hub[start] = True
        adjacency[start, members[1:]] = 1
        adjacency[members[1:], start] = 1
    return adjacency, community, is_hub


def _community_sizes(n_communities: int, community_size: int | Sequence[int]) -> np.ndarray:
    """``(n_communities,)`` int sizes from one size or a list of them, validated."""
    if n_communities < 0:
        raise ValueError("hub_network: n_communities and n_isolated must be >= 0")
    if np.ndim(community_size) == 0:
        sizes = np.full(n_communities, int(community_size), dtype=np.int64)
    else:
        sizes = np.asarray(community_size, dtype=np.int64).ravel()
        if sizes.size != n_communities:
            raise ValueError(
                f"hub_network: {sizes.size} community sizes given for n_communities={n_communities}"
            )
    if n_communities > 0 and sizes.min() < 2:
        raise ValueError("hub_network: community_size must be >= 2 (a hub and one spoke)")
    return sizes


def random_wishart(p: int, rho: float, rng: np.random.Generator, df: int | None = None):
    """Draw from Wishart(df, P / p) with ``P`` = 1 on the diagonal and ``rho`` off it.

    This is qpgraph's ``qpRndWishart(delta=sqrt(1/p), P=rho)``: the scale is
    ``Δ P Δ`` with ``Δ = diag(sqrt(1/p))``, so the expected draw is ``df/p · P``
    (``P`` itself for the default ``df = p``). Sampled with the Bartlett
    decomposition.

    Returns
    -------
    ``(p, p)`` float64 symmetric positive-definite matrix.
    """
    df = p if df is None else df
    if not -1.0 / max(p - 1, 1) < rho < 1.0:
        raise ValueError(f"hub_network: rho must lie in (-1/(p-1), 1), got {rho}")
    if df <= p - 1:
        raise ValueError(f"Wishart degrees of freedom must exceed p - 1 = {p - 1}, got {df}")
    scale = np.full((p, p), rho, dtype=np.float64)
    np.fill_diagonal(scale, 1.0)
    scale /= p
    chol_scale = np.linalg.cholesky(scale)
    # Bartlett: A lower triangular, A_ii ~ sqrt(chi2(df - i)), A_ij ~ N(0, 1) below.
    bartlett = np.tril(rng.standard_normal((p, p)), k=-1)
    bartlett[np.diag_indices(p)] = np.sqrt(rng.chisquare(df - np.arange(p)))
    factor = chol_scale @ bartlett
    return factor @ factor.T


def htf_completion(
    sample_cov: np.ndarray, adjacency: np.ndarray, tol: float = 1e-3, max_iter: int = 1000
) -> np.ndarray:
    """Covariance matching ``sample_cov`` on the graph, with zero precision off it.

    Algorithm 17.1 of Hastie, Tibshirani & Friedman (2009, "Elements of
    Statistical Learning"), as in qpgraph's ``qpHTF``: cycle over variables,
    regress each on its graph neighbours only, and replace its covariances by
    the fitted ones; the diagonal and the entries on edges keep the values of
    ``sample_cov``. Sweeps stop when no entry changes by more than ``tol``.

    Parameters
    ----------
    sample_cov
        ``(p, p)`` symmetric positive-definite matrix (``S``).
    adjacency
        ``(p, p)`` 0/1 symmetric adjacency, zero diagonal.
    tol
        Convergence threshold on the largest absolute change in one sweep.
    max_iter
        Maximum number of sweeps.

    Returns
    -------
    ``(p, p)`` covariance ``W`` with ``W_ij = S_ij`` on edges and the diagonal
    and ``(W⁻¹)_ij = 0`` wherever ``i ≠ j`` are not adjacent.
    """
    s = np.asarray(sample_cov, dtype=np.float64)
    adjacency = np.asarray(adjacency) != 0
    # The completed precision is zero between connected components, so the
    # covariance is block diagonal: complete each component on its own (the
    # full-matrix sweep would only shrink the cross-component entries towards
    # zero, to within ``tol``).
    n_components, component = connected_components(adjacency, directed=False)
    w = np.zeros_like(s)
    for c in range(n_components):
        members = np.flatnonzero(component == c)
        block = np.ix_(members, members)
        w[block] = _htf_block(s[block], adjacency[block], tol, max_iter)
    return w


def _htf_block(s: np.ndarray, adjacency: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """HTF sweeps on one connected component (see :func:`htf_completion`)."""
    p = s.shape[0]
    if p == 1:
        return s.copy()
    neighbours = [np.flatnonzero(adjacency[j]) for j in range(p)]
    w = s.copy()
    change = np.inf
    for sweep in range(max_iter):
        w_old = w.copy()
        for j, nbr in enumerate(neighbours):
            # Regress j on its neighbours within the current W; write back W11 β.
            beta = np.linalg.solve(w[nbr][:, nbr], s[nbr, j])
            w12 = w[:, nbr] @ beta
            w[j, :] = w12
            w[:, j] = w12
            w[j, j] = s[j, j]
        change = np.abs(w - w_old).max()
        if change <= tol:
            logger.debug(
                "HTF completion converged after %d sweeps (change %.2g)", sweep + 1, change
            )
            return w
    logger.warning(
        "HTF completion stopped after %d sweeps (change %.2g > tol %g)", max_iter, change, tol
    )
    return w


def graph_to_covariance(
    adjacency: np.ndarray, rho: float = 0.6, seed: int = 0, tol: float = 1e-3
) -> np.ndarray:
    """Numpy port of qpgraph's ``qpG2Sigma`` followed by conversion to a correlation.

    Parameters
    ----------
    adjacency
        ``(p, p)`` 0/1 symmetric adjacency.
    rho
        Mean marginal correlation on the edges (off-diagonal of the Wishart mean).
    seed
        Seed of the Wishart draw.
    tol
        HTF completion tolerance (qpgraph's default 1e-3).

    Returns
    -------
    ``(p, p)`` correlation matrix whose inverse is zero on non-edges.
    """
    adjacency = np.asarray(adjacency)
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {adjacency.shape}")
    if not np.array_equal(adjacency, adjacency.T):
        raise ValueError("adjacency must be symmetric")
    rng = np.random.default_rng(seed)
    wishart = random_wishart(adjacency.shape[0], rho, rng)
    sigma = htf_completion(wishart, adjacency, tol=tol)
    sd = np.sqrt(np.diag(sigma))
    corr = sigma / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    return corr


def hub_network(
    n_communities: int = 5,
    community_size: int | Sequence[int] = 50,
    n_isolated: int = 50,
    rho: float = 0.6,
    n_cells: int = 5000,
    seed: int = 0,
) -> ad.AnnData:
    """Cells drawn from a Gaussian graphical model of hub-and-spoke communities.

    The paper's simulation: ``n_communities`` communities of
    ``community_size`` genes, each a hub connected to every other member (no
    other edges), plus ``n_isolated`` unconnected genes. The covariance comes
    from a Wishart draw completed so that its inverse is zero on non-edges
    (qpgraph's ``qpG2Sigma``), rescaled to a correlation matrix, so each gene
    is ~N(0, 1) and ``X`` needs no further scaling.

    Parameters
    ----------
    n_communities, community_size, n_isolated
        Network layout (defaults: the paper's 5 × 50 + 50 = 300 genes).
        ``community_size`` may list one size per community (hub degree = size - 1),
        e.g. ``(10, 20, 40, 80, 100)`` for hubs of unequal degree.
    rho
        Mean marginal correlation of the Wishart draw (paper: 0.6).
    n_cells
        Number of cells sampled (paper: 5000).
    seed
        Seed for both the covariance draw and the cells.

    Returns
    -------
    AnnData ``(n_cells, p)`` with float32 dense ``X`` and

    - ``var["community"]`` int (``-1`` isolated), ``var["is_hub"]`` bool,
      ``var["degree"]`` int;
    - ``varp["adjacency"]`` 0/1 ground-truth graph, ``varp["correlation"]``
      the true correlation matrix (float64);
    - ``uns["hub_network"]`` the parameters.
    """
    if n_cells < 1:
        raise ValueError(f"hub_network: n_cells must be >= 1, got {n_cells}")
    adjacency, community, is_hub = hub_and_spoke_adjacency(
        n_communities, community_size, n_isolated
    )
    corr = graph_to_covariance(adjacency, rho=rho, seed=seed)
    rng = np.random.default_rng([seed, 1])  # independent stream from the Wishart draw
    chol = np.linalg.cholesky(corr)
    x = rng.standard_normal((n_cells, corr.shape[0])) @ chol.T

    p = corr.shape[0]
    var = pd.DataFrame(
        {
            "community": community,
            "is_hub": is_hub,
            "degree": adjacency.sum(axis=1).astype(np.int64),
        },
        index=pd.Index([f"g{i}" for i in range(p)]),
    )
    obs = pd.DataFrame(index=pd.Index([f"cell{i}" for i in range(n_cells)]))
    adata = ad.AnnData(X=x.astype(np.float32), obs=obs, var=var)
    adata.varp["adjacency"] = adjacency
    adata.varp["correlation"] = corr
    adata.uns["hub_network"] = {
        "n_communities": n_communities,
        "community_size": (
            int(community_size)
            if np.ndim(community_size) == 0
            else [int(c) for c in np.ravel(community_size)]
        ),
        "n_isolated": n_isolated,
        "rho": rho,
        "n_cells": n_cells,
        "seed": seed,
    }
    return adata


def toy_network(n_cells: int = 2000, seed: int = 0, loading: float = 0.8) -> ad.AnnData:
    """The 8-gene toy of Fig. 1a: genes 1–4 share a regulator, genes 5–8 do not.

    Each co-regulated gene is ``loading · f + sqrt(1 - loading²) · ε`` with a
    shared factor ``f ~ N(0, 1)``; the independent genes are pure noise, so
    every gene has unit variance and co-regulated pairs correlate at
    ``loading²`` (0.64 by default).

    Returns
    -------
    AnnData ``(n_cells, 8)``, float32 ``X``, var_names ``"gene1".."gene8"``,
    ``var["module"]`` (``"co-regulated"`` / ``"independent"``),
    ``var["community"]`` (0 / -1), ``obs["factor"]`` the shared factor.
    """
    if not 0.0 <= loading < 1.0:
        raise ValueError(f"toy_network: loading must lie in [0, 1), got {loading}")
    if n_cells < 1:
        raise ValueError(f"toy_network: n_cells must be >= 1, got {n_cells}")
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal(n_cells)
    noise = rng.standard_normal((n_cells, 8))
    x = noise.copy()
    x[:, :4] = loading * factor[:, None] + np.sqrt(1.0 - loading**2) * noise[:, :4]
    module = np.array(["co-regulated"] * 4 + ["independent"] * 4)
    var = pd.DataFrame(
        {"module": pd.Categorical(module), "community": np.where(module == "independent", -1, 0)},
        index=pd.Index([f"gene{i}" for i in range(1, 9)]),
    )
    obs = pd.DataFrame({"factor": factor}, index=pd.Index([f"cell{i}" for i in range(n_cells)]))
    adata = ad.AnnData(X=x.astype(np.float32), obs=obs, var=var)
    adata.uns["toy_network"] = {"n_cells": n_cells, "seed": seed, "loading": loading}
    return adata
