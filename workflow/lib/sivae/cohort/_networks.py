"""Gene networks from gene embeddings and the Weisfeiler-Lehman kernel between them.

The paper infers one gene co-expression network (GCN) per bin of cells by linking
the gene pairs that lie closest in that bin's siVAE gene-embedding space, then
compares networks with the Weisfeiler-Lehman (WL) subtree kernel of GraKeL.
Arrays in, arrays out: nothing here knows about models or AnnData.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial.distance import pdist

logger = logging.getLogger(__name__)

__all__ = ["gene_network", "wl_kernel", "group_kernel"]


def gene_network(
    embedding: np.ndarray | pd.DataFrame,
    top_fraction: float | None = 0.01,
    threshold: float | None = None,
    return_distances: bool = False,
    metric: str = "euclidean",
) -> sp.csr_matrix | tuple[sp.csr_matrix, sp.csr_matrix]:
    """Link the gene pairs that are closest in a gene-embedding space.

    Parameters
    ----------
    embedding
        Gene embedding, shape ``(n_genes, n_dims)`` (e.g. siVAE loadings of one
        bin). Row order defines node order.
    top_fraction
        Keep this fraction of all ``n_genes (n_genes - 1) / 2`` pairs, the ones
        with the smallest distance (at least one edge). Default 0.01;
        the original analyses used 0.001-0.01. Ignored when ``threshold`` is set.
    threshold
        Instead of a fraction, link every pair with distance ``<= threshold``.
    return_distances
        Also return the distances of the kept pairs (same sparsity pattern;
        a zero distance is stored explicitly).
    metric
        ``"euclidean"`` (default, the paper's rule: closest pairs in the
        embedding space) or ``"cosine"`` (``1 - cos`` of the two genes'
        embedding vectors: closest in direction, whatever their distance from
        the origin). A gene whose embedding is exactly zero has no direction
        and is never linked under ``"cosine"``.

    Returns
    -------
    adjacency : scipy.sparse.csr_matrix
        ``(n_genes, n_genes)`` symmetric 0/1 float matrix, zero diagonal.
    distances : scipy.sparse.csr_matrix
        Only with ``return_distances``: distance (in ``metric``) on each edge.

    Notes
    -----
    Ties at the cut-off are broken by pair order (stable sort), so exactly
    ``round(top_fraction * n_pairs)`` edges are kept (fewer under
    ``"cosine"`` only if zero-embedding genes leave fewer linkable pairs).

    Why ``"cosine"`` exists: in siVAE gene embeddings the genes that carry
    little co-expression signal (background genes) sit near the origin (about
    half the norm of module genes; the feature KL pulls an uninformative gene's
    posterior mean to the prior's 0), where they are close to each other. Under
    ``"euclidean"`` a varying share of the closest pairs are then
    background-background pairs (7-56% of a siVAE bin network's top-2% pairs on
    the simulated cohort, seeds 0-7, against 0-24% for the PCA stand-in and 0-1%
    under cosine), which adds bin-to-bin noise to the graph kernel. Direction is
    what separates co-expression modules, and background genes near the origin
    point anywhere, so cosine keeps within-module pairs (measurements in
    ``tests/test_cohort_science.py``).
    """
    values = np.asarray(embedding, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(
            f"gene_network: embedding must be a 2-D (genes × dims) array with at least 2 genes, "
            f"got shape {values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError("gene_network: embedding contains NaN or Inf values")
    n_genes = values.shape[0]
    distances = _pair_distances(values, metric)  # condensed upper triangle, (i < j) row-major
    if threshold is not None:
        if threshold < 0:
            raise ValueError(f"gene_network: threshold must be >= 0, got {threshold}")
        keep = np.flatnonzero(distances <= threshold)
    else:
        if top_fraction is None or not 0 < top_fraction <= 1:
            raise ValueError(
                f"gene_network: top_fraction must lie in (0, 1] (or give a threshold), "
                f"got {top_fraction}"
            )
        n_edges = max(1, int(round(top_fraction * distances.size)))
        keep = np.argsort(distances, kind="stable")[:n_edges]
        keep = keep[np.isfinite(distances[keep])]
    rows, cols = np.triu_indices(n_genes, k=1)
    rows, cols = rows[keep], cols[keep]
    both_rows = np.concatenate([rows, cols])
    both_cols = np.concatenate([cols, rows])
    shape = (n_genes, n_genes)
    adjacency = sp.csr_matrix((np.ones(both_rows.size), (both_rows, both_cols)), shape=shape)
    if not return_distances:
        return adjacency
    kept = np.concatenate([distances[keep], distances[keep]])
    return adjacency, sp.csr_matrix((kept, (both_rows, both_cols)), shape=shape)


def _pair_distances(values: np.ndarray, metric: str) -> np.ndarray:
    """Condensed pairwise distances; ``inf`` for pairs that cannot be compared."""
    if metric == "euclidean":
        return pdist(values)
    if metric != "cosine":
        raise ValueError(f"gene_network: metric must be 'euclidean' or 'cosine', got {metric!r}")
    norms = np.linalg.norm(values, axis=1)
    zero = norms == 0
    if zero.any():
        logger.info("gene_network: %d gene(s) with a zero embedding are not linked", zero.sum())
    unit = values / np.where(zero, 1.0, norms)[:, None]
    # |u - v|^2 = 2 - 2 cos(u, v) for unit vectors: condensed, no (pairs, K) temporary
    distances = np.clip(pdist(unit, "sqeuclidean") / 2.0, 0.0, 2.0)
    if zero.any():
        rows, cols = np.triu_indices(values.shape[0], k=1)
        distances[zero[rows] | zero[cols]] = np.inf
    return distances


def _to_grakel(adjacency, node_label: str, gene_labels: np.ndarray):
    from grakel import Graph

    # WL ignores edge weights: any stored non-zero is an edge.
    matrix = sp.csr_matrix(adjacency)
    matrix.setdiag(0)
    matrix.eliminate_zeros()
    matrix = ((matrix + matrix.T) != 0).tocsr()  # symmetric, boolean
    n_genes = matrix.shape[0]
    neighbours = {
        i: matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]].tolist() for i in range(n_genes)
    }
    if node_label == "degree":
        degree = np.diff(matrix.indptr)
        labels = {i: int(degree[i]) for i in range(n_genes)}
    else:
        labels = {i: gene_labels[i] for i in range(n_genes)}
    return Graph(neighbours, node_labels=labels)


def wl_kernel(
    networks: Sequence,
    node_label: str = "degree",
    n_iter: int = 5,
    normalize: bool = True,
) -> np.ndarray:
    """Weisfeiler-Lehman subtree kernel between gene networks (GraKeL).

    Parameters
    ----------
    networks
        Sequence of ``n_networks`` adjacency matrices (dense or sparse,
        ``(n_genes, n_genes)``) over the SAME genes in the same order. Edge
        weights are ignored (binarised), as WL works on unweighted graphs.
    node_label
        ``"degree"`` (default, as the original analysis): each gene starts with
        its degree as label, so the kernel compares network shapes regardless
        of which gene sits where. ``"gene"``: each gene starts with its own
        identity; iteration 0 then contributes the same constant to every pair
        (every gene is in every network), iteration 1 counts genes whose
        neighbour SET is identical in both networks, and later iterations match
        only when whole multi-hop neighbourhoods coincide (rare), so
        ``n_iter=1`` already carries the signal.
    n_iter
        Number of WL relabelling iterations; the kernel sums the vertex-label
        histogram kernel over iterations ``0..n_iter`` (GraKeL's convention;
        at least 1). Default 5.
    normalize
        Return ``k(a, b) / sqrt(k(a, a) k(b, b))`` (ones on the diagonal).

    Returns
    -------
    np.ndarray
        ``(n_networks, n_networks)`` symmetric kernel matrix.
    """
    from grakel.kernels import VertexHistogram, WeisfeilerLehman

    if node_label not in ("degree", "gene"):
        raise ValueError(f"wl_kernel: node_label must be 'degree' or 'gene', got {node_label!r}")
    if n_iter < 1:
        raise ValueError(f"wl_kernel: n_iter must be >= 1 (GraKeL), got {n_iter}")
    if len(networks) < 1:
        raise ValueError("wl_kernel: no networks given")
    shapes = {tuple(np.shape(net)) for net in networks}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or len(set(next(iter(shapes)))) != 1:
        raise ValueError(
            f"wl_kernel: networks must be square adjacency matrices over the same genes, "
            f"got shapes {sorted(shapes)}"
        )
    n_genes = next(iter(shapes))[0]
    gene_labels = np.arange(n_genes)
    graphs = [_to_grakel(net, node_label, gene_labels) for net in networks]
    kernel = WeisfeilerLehman(n_iter=n_iter, normalize=normalize, base_graph_kernel=VertexHistogram)
    return np.asarray(kernel.fit_transform(graphs), dtype=np.float64)


def group_kernel(
    bin_kernel: np.ndarray | pd.DataFrame,
    bin_groups: Sequence | Mapping | pd.Series,
) -> pd.DataFrame:
    """Average a bin × bin kernel into a group × group kernel.

    Entry ``(a, b)`` is the mean of the kernel over all pairs of a bin of group
    ``a`` and a bin of group ``b`` (the diagonal block includes each bin's
    similarity with itself, as in the original analysis).

    Parameters
    ----------
    bin_kernel
        ``(n_bins, n_bins)`` kernel matrix (e.g. from :func:`wl_kernel`).
    bin_groups
        Group of each bin, in the kernel's order (length ``n_bins``), or a
        mapping/Series ``bin -> group`` when ``bin_kernel`` is a DataFrame
        indexed by bin.

    Returns
    -------
    pd.DataFrame
        ``(n_groups, n_groups)``, index and columns the sorted group names.
    """
    if isinstance(bin_kernel, pd.DataFrame) and isinstance(bin_groups, (Mapping, pd.Series)):
        groups = np.asarray([pd.Series(bin_groups)[b] for b in bin_kernel.index])
    else:
        groups = np.asarray(
            list(bin_groups.values()) if isinstance(bin_groups, Mapping) else bin_groups
        )
    kernel = np.asarray(bin_kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] != groups.size:
        raise ValueError(
            f"group_kernel: kernel of shape {kernel.shape} does not match {groups.size} bin groups"
        )
    names, codes = np.unique(groups.astype(str), return_inverse=True)
    membership = np.zeros((groups.size, names.size))
    membership[np.arange(groups.size), codes] = 1.0
    membership /= membership.sum(0, keepdims=True)  # column g averages over group g's bins
    return pd.DataFrame(membership.T @ kernel @ membership, index=names, columns=names)
