"""Gene neighbourhoods from embeddings or networks, and the paper's benchmark of them.

Methods, "Identifying gene co-expression network neighbors" (siVAE-Euc, siVAE-GCN,
GCN methods), "Benchmarking gene neighborhoods" (a small MLP predicts a query
gene from its 20 neighbours) and "Quantifying overlap in gene neighborhoods"
(percentage overlap and mean correlation).

Neighbourhoods are ``(n_genes, k)`` int arrays of gene indices, row ``g``
holding the neighbours of gene ``g`` (never ``g`` itself), closest first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.neighbors import NearestNeighbors

from ._batched_mlp import fit_predict_batched, variance_explained
from ._centrality import _standardise
from ._infer import infer_network
from ._mi import _check_expression

logger = logging.getLogger(__name__)

__all__ = [
    "knn_neighbours",
    "top_k_from_weights",
    "sivae_gcn_neighbours",
    "query_genes",
    "neighbour_prediction_accuracy",
    "jaccard_matrix",
    "mean_correlation",
    "neighbour_overlap",
]


def knn_neighbours(embedding, k: int = 20) -> np.ndarray:
    """The ``k`` nearest genes in an embedding (Euclidean): siVAE-Euc.

    Parameters
    ----------
    embedding
        ``(n_genes, n_dims)`` gene coordinates (siVAE loadings, VAE-linear loadings, ...).
    k
        Neighbours per gene (paper: 20).

    Returns
    -------
    ``(n_genes, k)`` int array, nearest first, excluding the gene itself.

    Raises
    ------
    ValueError
        If there are fewer than ``k + 1`` genes, or the embedding has NaN/Inf.
    """
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be 2-D (genes × dims), got shape {emb.shape}")
    n_genes = emb.shape[0]
    if k < 1 or n_genes < k + 1:
        raise ValueError(
            f"knn_neighbours: k={k} neighbours need at least k + 1 = {k + 1} genes, "
            f"the embedding has {n_genes}"
        )
    if not np.isfinite(emb).all():
        raise ValueError("knn_neighbours: the embedding contains NaN/Inf values")
    found = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb, return_distance=False)
    # The gene itself is usually first, but not always with duplicated points: drop it by value.
    out = np.empty((n_genes, k), dtype=np.int64)
    for g in range(n_genes):
        row = found[g][found[g] != g]
        out[g] = row[:k]
    return out


def top_k_from_weights(W, k: int = 20) -> np.ndarray:
    """The ``k`` genes with the largest weights to each gene (GCN methods).

    Parameters
    ----------
    W
        ``(n_genes, n_genes)`` weights; row ``g`` is read for gene ``g``
        (symmetrise a directed matrix first). The diagonal is ignored.
    k
        Neighbours per gene (paper: 20).

    Returns
    -------
    ``(n_genes, k)`` int array, largest weight first; ties go to the lower index.
    """
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square genes × genes matrix, got shape {W.shape}")
    n_genes = W.shape[0]
    if k < 1 or n_genes < k + 1:
        raise ValueError(
            f"top_k_from_weights: k={k} neighbours need at least k + 1 = {k + 1} genes, "
            f"W has {n_genes}"
        )
    out = np.empty((n_genes, k), dtype=np.int64)
    n_weak = 0
    rows = max(1, 2**22 // n_genes)  # rows per chunk: bounded memory for large networks
    for start in range(0, n_genes, rows):
        stop = min(start + rows, n_genes)
        block = np.array(W[start:stop], dtype=np.float64)
        if np.isnan(block).any():
            raise ValueError("top_k_from_weights: W contains NaN")
        block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never the gene itself
        top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        out[start:stop] = top
        n_weak += int((np.take_along_axis(block, top, axis=1)[:, -1] <= 0).sum())
    if n_weak:
        logger.info(
            "top_k_from_weights: %d of %d genes have fewer than %d positive-weight neighbours; "
            "the rest are filled by index among zero-weight genes",
            n_weak,
            n_genes,
            k,
        )
    return out


def sivae_gcn_neighbours(sampled_X, method: str, k: int = 20, **network_kwargs) -> np.ndarray:
    """siVAE-GCN: neighbours from a network inferred on data sampled from a trained model.

    Parameters
    ----------
    sampled_X
        ``(n_cells, n_genes)`` generated data, e.g. ``model.sample(adata.n_obs)``.
    method
        ``"clr"``, ``"aracne"``, ``"mrnet"`` or ``"grnboost2"``.
    k
        Neighbours per gene.
    **network_kwargs
        Passed to :func:`infer_network` (``estimator``, ``seed``, ``n_jobs``, GBM options).

    Returns
    -------
    ``(n_genes, k)`` int array (see :func:`top_k_from_weights`).
    """
    return top_k_from_weights(infer_network(sampled_X, method, **network_kwargs), k=k)


def query_genes(centralities: Mapping[str, pd.Series], top_n: int = 500) -> pd.Index:
    """Genes in the top ``top_n`` by centrality for every method (the paper's 152 query genes).

    Parameters
    ----------
    centralities
        Method name → ``pd.Series`` of centrality per gene (higher = more central),
        all over the same genes. NaN entries are dropped (logged).
    top_n
        Size of each method's top set.

    Returns
    -------
    ``pd.Index`` of the genes in every top set, ordered by the first method's centrality.
    """
    if not centralities:
        raise ValueError("query_genes: no centralities given")
    items = list(centralities.items())
    first_name, first = items[0]
    common = None
    for name, series in items:
        if not isinstance(series, pd.Series):
            raise ValueError(f"query_genes: centrality of {name!r} must be a pandas Series")
        if not series.index.is_unique:
            raise ValueError(f"query_genes: centrality of {name!r} has duplicated gene names")
        if set(series.index) != set(first.index):
            raise ValueError(
                f"query_genes: centralities of {name!r} and {first_name!r} cover different genes"
            )
        n_nan = int(series.isna().sum())
        if n_nan:
            logger.warning("query_genes: %d NaN centralities of %r dropped", n_nan, name)
        top = set(series.dropna().sort_values(ascending=False, kind="stable").index[:top_n])
        common = top if common is None else common & top
    ordered = first.dropna().sort_values(ascending=False, kind="stable").index
    return pd.Index([g for g in ordered if g in common], name="gene")


def _as_method_dict(neighbours) -> dict[str, np.ndarray]:
    if isinstance(neighbours, Mapping):
        return {str(m): np.asarray(v, dtype=np.int64) for m, v in neighbours.items()}
    return {"neighbours": np.asarray(neighbours, dtype=np.int64)}


def _query_indices(query, gene_names, n_genes: int) -> np.ndarray:
    query = np.asarray(query)
    if query.dtype.kind in "iu":
        idx = query.astype(np.int64)
    else:
        if gene_names is None:
            raise ValueError("query holds gene names: pass gene_names to map them to columns")
        lookup = pd.Index(gene_names)
        idx = lookup.get_indexer(query)
        if (idx < 0).any():
            raise ValueError(f"query genes not in gene_names: {list(query[idx < 0][:10])}")
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n_genes:
        raise ValueError(f"query must hold gene indices in 0 .. {n_genes - 1}")
    return idx


def neighbour_prediction_accuracy(
    X_train,
    X_test,
    query,
    neighbours,
    gene_names=None,
    hidden: Sequence[int] = (16, 8, 4),
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "auto",
) -> pd.DataFrame:
    """How well each query gene is predicted from its neighbours (paper Fig. 5c).

    For every (method, query gene) an MLP ``k → hidden → 1`` (ReLU; paper
    16/8/4) is trained on ``X_train`` to predict the query gene from its ``k``
    neighbours; accuracy is ``1 - Var(x - x̂) / Var(x)`` on ``X_test``. All
    networks train together as one batched network. Inputs and target are
    standardised with the training cells' statistics.

    Parameters
    ----------
    X_train, X_test
        ``(n_cells, n_genes)`` expression of training / held-out cells.
    query
        Query genes: indices, or names when ``gene_names`` is given.
    neighbours
        ``(n_genes, k)`` neighbour array, or method name → such array.
    gene_names
        Gene names (columns of ``X``), used for ``query`` and the ``gene`` column.
    hidden, epochs, batch_size, lr, seed
        Network and Adam schedule (seed: minibatch order and, with the gene index, weights).
    device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...

    Returns
    -------
    Tidy ``pd.DataFrame`` with columns ``method`` (``"neighbours"`` for a single
    array), ``gene`` (name, or index), ``variance_explained``; one row per
    (method, query gene).
    """
    X_train = _check_expression(X_train, "X_train").astype(np.float32)
    X_test = _check_expression(X_test, "X_test").astype(np.float32)
    if X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_train has {X_train.shape[1]} genes but X_test has {X_test.shape[1]}")
    n_genes = X_train.shape[1]
    q = _query_indices(query, gene_names, n_genes)
    methods = _as_method_dict(neighbours)
    k = None
    for name, nb in methods.items():
        if nb.ndim != 2 or nb.shape[0] != n_genes:
            raise ValueError(
                f"neighbours of {name!r} must have shape (n_genes={n_genes}, k), got {nb.shape}"
            )
        if nb.min() < 0 or nb.max() >= n_genes:
            raise ValueError(f"neighbours of {name!r} hold indices outside 0 .. {n_genes - 1}")
        if k is not None and nb.shape[1] != k:
            raise ValueError("all methods need the same number of neighbours k")
        k = nb.shape[1]
        if (nb[q] == q[:, None]).any():
            raise ValueError(f"neighbours of {name!r} include the query gene itself")
    train, test = _standardise(X_train, X_test)
    inputs_train, inputs_test, targets, labels = [], [], [], []
    for name, nb in methods.items():
        rows = nb[q]  # (n_query, k)
        inputs_train.append(train[:, rows].transpose(1, 0, 2))  # (n_query, n_train, k)
        inputs_test.append(test[:, rows].transpose(1, 0, 2))
        targets.append(train[:, q].T[:, :, None])  # (n_query, n_train, 1)
        labels += [(name, g) for g in q]
    prediction = fit_predict_batched(
        torch.from_numpy(np.concatenate(inputs_train)),
        torch.from_numpy(np.concatenate(targets)),
        torch.from_numpy(np.concatenate(inputs_test)),
        hidden=hidden,
        net_seeds=[seed * 1_000_003 + int(g) for _, g in labels],
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
    ).numpy()
    truth = np.concatenate([test[:, q].T[:, :, None]] * len(methods))
    explained = variance_explained(truth, prediction)[:, 0]
    names = np.asarray(gene_names)[q] if gene_names is not None else q
    return pd.DataFrame(
        {
            "method": [m for m, _ in labels],
            "gene": np.tile(names, len(methods)),
            "variance_explained": explained,
        }
    )


def _incidence(neigh: np.ndarray, n_genes: int) -> sp.csr_matrix:
    """Rows × genes 0/1 matrix of the neighbour sets (duplicates counted once)."""
    rows = np.repeat(np.arange(neigh.shape[0]), neigh.shape[1])
    m = sp.csr_matrix((np.ones(neigh.size), (rows, neigh.ravel())), shape=(neigh.shape[0], n_genes))
    m.data[:] = 1.0  # duplicates were summed by the constructor
    return m


def _check_neigh(neigh, name: str) -> np.ndarray:
    neigh = np.asarray(neigh)
    if neigh.ndim != 2 or neigh.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be a 2-D integer array (rows × k), got {neigh.dtype} {neigh.shape}"
        )
    if neigh.size and neigh.min() < 0:
        raise ValueError(f"{name} holds negative gene indices")
    return neigh.astype(np.int64)


def jaccard_matrix(neigh_a, neigh_b) -> np.ndarray:
    """Pairwise Jaccard index between every row set of ``neigh_a`` and of ``neigh_b``.

    Parameters
    ----------
    neigh_a, neigh_b
        ``(n_a, k_a)`` and ``(n_b, k_b)`` int arrays of gene indices (each row a set).

    Returns
    -------
    ``(n_a, n_b)`` array ``J[r, s] = |A_r ∩ B_s| / |A_r ∪ B_s|``; when both hold
    one row per gene, ``np.diag(J)`` is each gene's overlap between the two methods.
    """
    a = _check_neigh(neigh_a, "neigh_a")
    b = _check_neigh(neigh_b, "neigh_b")
    n_genes = int(max(a.max(initial=-1), b.max(initial=-1))) + 1
    A, B = _incidence(a, n_genes), _incidence(b, n_genes)
    inter = (A @ B.T).toarray()
    size_a = np.asarray(A.sum(axis=1)).ravel()
    size_b = np.asarray(B.sum(axis=1)).ravel()
    union = size_a[:, None] + size_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, np.nan)


def mean_correlation(X, neigh_a, neigh_b) -> np.ndarray:
    """Mean Pearson correlation over all ``k_a × k_b`` gene pairs of two neighbourhoods.

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression.
    neigh_a, neigh_b
        ``(n_rows, k_a)`` and ``(n_rows, k_b)`` int arrays; row ``r`` of each is a
        neighbourhood of the same query gene.

    Returns
    -------
    ``(n_rows,)`` mean correlation (a gene in both sets contributes its r = 1).
    """
    X = _check_expression(X)
    a = _check_neigh(neigh_a, "neigh_a")
    b = _check_neigh(neigh_b, "neigh_b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"neigh_a has {a.shape[0]} rows but neigh_b has {b.shape[0]}")
    n_genes = X.shape[1]
    if max(a.max(initial=-1), b.max(initial=-1)) >= n_genes:
        raise ValueError(f"neighbour indices exceed the {n_genes} genes of X")
    centred = X - X.mean(axis=0)
    norm = np.linalg.norm(centred, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = centred / norm  # columns of unit norm: Z_a · Z_b = Pearson r
    # Σ_{i in A} Σ_{j in B} r_ij = (Σ_{i in A} Z_i) · (Σ_{j in B} Z_j); duplicates count as pairs.
    sum_a = Z[:, a].sum(axis=2) if a.size * X.shape[0] < 5e7 else _chunked_sum(Z, a)
    sum_b = Z[:, b].sum(axis=2) if b.size * X.shape[0] < 5e7 else _chunked_sum(Z, b)
    return (sum_a * sum_b).sum(axis=0) / (a.shape[1] * b.shape[1])


def _chunked_sum(Z: np.ndarray, neigh: np.ndarray, rows: int = 256) -> np.ndarray:
    out = np.empty((Z.shape[0], neigh.shape[0]))
    for start in range(0, neigh.shape[0], rows):
        out[:, start : start + rows] = Z[:, neigh[start : start + rows]].sum(axis=2)
    return out


def neighbour_overlap(
    neighbours: Mapping[str, np.ndarray], query, X=None, gene_names=None
) -> pd.DataFrame:
    """Overlap between every pair of methods' neighbourhoods of the query genes.

    Parameters
    ----------
    neighbours
        Method name → ``(n_genes, k)`` neighbour array (same ``k`` for all).
    query
        Query genes: indices, or names when ``gene_names`` is given.
    X
        Optional ``(n_cells, n_genes)`` expression for the mean correlation.
    gene_names
        Gene names, used for ``query`` and the ``gene`` column.

    Returns
    -------
    Tidy ``pd.DataFrame``, one row per (pair of methods, query gene), columns
    ``method_a``, ``method_b``, ``gene``, ``jaccard``, ``percent_overlap``
    (``100 · |A ∩ B| / k``) and, with ``X``, ``mean_correlation``.
    """
    methods = _as_method_dict(neighbours)
    if len(methods) < 2:
        raise ValueError("neighbour_overlap needs at least two methods")
    ks = {nb.shape[1] for nb in methods.values()}
    if len(ks) != 1:
        raise ValueError(f"all methods need the same number of neighbours, got {sorted(ks)}")
    (k,) = ks
    n_genes = next(iter(methods.values())).shape[0]
    q = _query_indices(query, gene_names, n_genes)
    names = np.asarray(gene_names)[q] if gene_names is not None else q
    frames = []
    for ma, mb in combinations(methods, 2):
        a, b = methods[ma][q], methods[mb][q]
        jac = np.diag(jaccard_matrix(a, b))
        inter = np.array([np.intersect1d(ra, rb).size for ra, rb in zip(a, b, strict=True)])
        frame = pd.DataFrame(
            {
                "method_a": ma,
                "method_b": mb,
                "gene": names,
                "jaccard": jac,
                "percent_overlap": 100.0 * inter / k,
            }
        )
        if X is not None:
            frame["mean_correlation"] = mean_correlation(X, a, b)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
