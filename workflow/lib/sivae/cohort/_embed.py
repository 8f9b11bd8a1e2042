"""Per-bin gene embeddings and degree centralities, and group-level summaries of an AnnData.

The cohort analysis needs, for every bin of cells, a gene embedding
(genes × K) and a degree centrality per gene. :func:`sivae_gene_embedding` is
the paper's choice (siVAE loadings, -reconstruction error).
:func:`pca_gene_embedding` is a fast linear baseline and test stand-in: PCA
loadings and -reconstruction error of a rank-K PCA, the linear analogue of
the same two quantities.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = [
    "pca_gene_embedding",
    "sivae_gene_embedding",
    "sivae_gene_embedding_batched",
    "embed_bins",
    "group_phenotype",
    "group_mean_expression",
]


def _dense(matrix) -> np.ndarray:
    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix, dtype=np.float64)


def pca_gene_embedding(
    X: np.ndarray, n_components: int = 10, batch: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """PCA stand-in for siVAE: gene loadings and -reconstruction error of a rank-K PCA.

    Genes are centred (within each batch when ``batch`` is given, which
    regresses out a categorical batch effect) and scaled to unit variance, as
    in the paper's preprocessing; genes with zero variance stay at 0.

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression (dense or sparse).
    n_components
        Rank K. Default 10.
    batch
        Optional batch label per cell (e.g. the sequencing pool).

    Returns
    -------
    loadings : np.ndarray
        ``(n_genes, K)``: ``components_ * sqrt(explained_variance_)``, the
        convention of siVAE's attribution loadings (DESIGN §4).
    centrality : np.ndarray
        ``(n_genes,)``: minus the mean squared error of each standardised gene
        reconstructed from K components (higher = better explained = more hub-like).
    """
    x = _dense(X)
    n_cells, n_genes = x.shape
    if n_cells < 2:
        raise ValueError(f"pca_gene_embedding: need at least 2 cells, got {n_cells}")
    if batch is None:
        x = x - x.mean(0)
    else:
        batch = pd.Series(np.asarray(batch)).astype(str).to_numpy()
        if batch.size != n_cells:
            raise ValueError(f"pca_gene_embedding: {batch.size} batch labels for {n_cells} cells")
        for level in np.unique(batch):
            rows = batch == level
            x[rows] -= x[rows].mean(0)
    std = x.std(0)
    x /= np.where(std > 0, std, 1.0)
    k = min(n_components, n_cells - 1, n_genes)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    loadings = vt[:k].T * (s[:k] / np.sqrt(n_cells - 1))
    residual = x - (u[:, :k] * s[:k]) @ vt[:k]
    return loadings, -(residual**2).mean(0)


def sivae_gene_embedding(
    adata: ad.AnnData,
    n_latent: int = 32,
    batch_key: str | None = None,
    layer: str | None = None,
    seed: int = 0,
    train_kwargs: Mapping | None = None,
    **model_kwargs,
) -> tuple[pd.DataFrame, pd.Series]:
    """Train siVAE on one bin of cells; return its loadings and degree centrality.

    Parameters
    ----------
    adata
        The bin's cells (all genes of the study, same order in every bin).
    n_latent
        Latent dimensions (the paper used 32 for NeurDiff).
    batch_key
        ``obs`` column corrected for inside the model (e.g. the pool). This keeps
        the batch out of the cell embedding, not out of the gene embedding: the
        batch enters through the decoder, so each gene's output weights (and
        hence its embedding) must encode that gene's batch shift. For the
        cohort analyses regress the batch out within each group beforehand, as
        the paper did (``sivae.pp.regress_out(adata, [key], group_key=group)``),
        and leave this ``None``.
    layer
        Layer to model (default ``X``).
    seed
        Model seed.
    train_kwargs
        Passed to ``model.train`` (e.g. ``max_epochs``, ``device``). Train long
        enough for the gene embedding to form: on the simulated cohort (400-cell
        bins) 80 steps per stage left it without module structure, 400 did not.
    **model_kwargs
        Passed to ``sivae.SIVAE`` (e.g. ``gamma``).

    Returns
    -------
    loadings : pd.DataFrame
        ``(n_genes, n_latent)`` from ``model.get_loadings()``.
    centrality : pd.Series
        ``model.get_degree_centrality()``.
    """
    from ..model import SIVAE

    adata = adata.copy()
    SIVAE.setup_anndata(adata, layer=layer, batch_key=batch_key)
    model = SIVAE(adata, n_latent=n_latent, seed=seed, **model_kwargs)
    model.train(**dict(train_kwargs or {}))
    return model.get_loadings(), model.get_degree_centrality()


def sivae_gene_embedding_batched(
    adatas: Sequence[ad.AnnData],
    n_latent: int = 32,
    layer: str | None = None,
    seed: int = 0,
    train_kwargs: Mapping | None = None,
    **model_kwargs,
) -> list[tuple[pd.DataFrame, pd.Series]]:
    """:func:`sivae_gene_embedding` of many bins at once (``sivae.model.train_bins``).

    All bins' siVAE models are trained together in one process, with the same
    results as :func:`sivae_gene_embedding` per bin with the same ``seed``. The
    bins need the same numbers of cells and genes; covariates (``batch_key``) are
    not supported in batched mode: regress the batch out within each group
    first (``sivae.pp.regress_out(adata, [key], group_key=group)``, the paper's
    preprocessing), which also keeps it out of the gene embeddings.

    Parameters
    ----------
    adatas
        The bins' cells (all genes of the study, same order in every bin).
    n_latent, layer, seed, train_kwargs, **model_kwargs
        As :func:`sivae_gene_embedding`; ``train_kwargs`` may also hold
        ``device`` and ``compile``.

    Returns
    -------
    list of ``(loadings, centrality)``, one per bin, in order.
    """
    from ..model import SIVAE, train_bins

    copies = []
    for bin_adata in adatas:
        bin_adata = bin_adata.copy()
        SIVAE.setup_anndata(bin_adata, layer=layer)
        copies.append(bin_adata)
    results = train_bins(
        copies, n_latent=n_latent, seed=seed, **dict(train_kwargs or {}), **model_kwargs
    )
    return [(r.loadings, r.degree_centrality) for r in results]


def embed_bins(
    adata: ad.AnnData,
    bins: Mapping[str, Sequence[np.ndarray]],
    embedder: Callable | None = None,
    n_components: int = 10,
    batch_key: str | None = None,
    layer: str | None = None,
    multi_embedder: Callable | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.Series], pd.Series]:
    """Gene embedding and centrality of every bin.

    Parameters
    ----------
    adata
        All cells (cells × genes).
    bins
        ``{group: [row indices of each bin]}`` as returned by ``sivae.pp.make_bins``.
    embedder
        ``embedder(adata_bin) -> (loadings (genes × K), centrality (genes,))``,
        e.g. ``functools.partial(sivae_gene_embedding, n_latent=32)``. ``None``:
        the PCA stand-in :func:`pca_gene_embedding` with ``n_components``,
        centred within ``batch_key``.
    n_components
        Rank of the PCA stand-in.
    batch_key
        ``obs`` column regressed out by the PCA stand-in (ignored by a custom embedder).
    layer
        Layer used by the PCA stand-in (default ``X``).
    multi_embedder
        ``multi_embedder([adata_bin, ...]) -> [(loadings, centrality), ...]`` embedding
        every bin in one call, e.g. ``functools.partial(sivae_gene_embedding_batched,
        n_latent=32)`` (trains all bins' models at once). Replaces ``embedder``.

    Returns
    -------
    embeddings : dict
        Bin name (``"<group>_bin<i>"``) → DataFrame ``(n_genes, K)`` indexed by gene.
    centralities : dict
        Bin name → Series indexed by gene.
    bin_groups : pd.Series
        Bin name → group.
    """
    if batch_key is not None and batch_key not in adata.obs:
        raise ValueError(f"embed_bins: batch_key {batch_key!r} not in adata.obs")
    genes = adata.var_names
    embeddings, centralities, owner = {}, {}, {}
    if multi_embedder is not None:
        if embedder is not None:
            raise ValueError("embed_bins: pass either embedder or multi_embedder, not both")
        names = [
            (f"{g}_bin{i}", g, rows)
            for g, members in bins.items()
            for i, rows in enumerate(members)
        ]
        outputs = multi_embedder([adata[np.asarray(rows)] for _, _, rows in names])
        for (name, group, _), (loadings, centrality) in zip(names, outputs, strict=True):
            embeddings[name] = pd.DataFrame(np.asarray(loadings), index=genes)
            centralities[name] = pd.Series(np.asarray(centrality, dtype=np.float64), index=genes)
            owner[name] = str(group)
        logger.info("embed_bins: embedded %d bins of %d groups at once", len(names), len(bins))
        return embeddings, centralities, pd.Series(owner, name="group")
    for group, members in bins.items():
        for i, rows in enumerate(members):
            name = f"{group}_bin{i}"
            cells = adata[np.asarray(rows)]
            if embedder is None:
                matrix = cells.X if layer is None else cells.layers[layer]
                batch = None if batch_key is None else cells.obs[batch_key].to_numpy()
                loadings, centrality = pca_gene_embedding(matrix, n_components, batch)
            else:
                loadings, centrality = embedder(cells)
            embeddings[name] = pd.DataFrame(np.asarray(loadings), index=genes)
            centralities[name] = pd.Series(np.asarray(centrality, dtype=np.float64), index=genes)
            owner[name] = str(group)
    logger.info("embed_bins: embedded %d bins of %d groups", len(embeddings), len(bins))
    return embeddings, centralities, pd.Series(owner, name="group")


def group_phenotype(adata: ad.AnnData, group_key: str, phenotype_key: str) -> pd.Series:
    """One phenotype value per group, read from ``obs``.

    Raises
    ------
    ValueError
        If a key is missing, or a group has more than one phenotype value.
    """
    for key in (group_key, phenotype_key):
        if key not in adata.obs:
            raise ValueError(
                f"obs key {key!r} not found; available obs columns: {list(adata.obs.columns)}"
            )
    table = adata.obs[[group_key, phenotype_key]].dropna()
    n_values = table.groupby(group_key, observed=True)[phenotype_key].nunique()
    mixed = n_values[n_values > 1]
    if len(mixed):
        raise ValueError(
            f"phenotype {phenotype_key!r} must be constant within each {group_key!r}; "
            f"{len(mixed)} group(s) have several values, e.g. {list(mixed.index[:5])}"
        )
    values = table.groupby(group_key, observed=True)[phenotype_key].first()
    values.index = values.index.astype(str)
    return values.rename(phenotype_key)


def group_mean_expression(
    adata: ad.AnnData,
    group_key: str,
    layer: str | None = None,
    cells: np.ndarray | None = None,
) -> pd.DataFrame:
    """Mean expression of every gene per group (the mean-expression control).

    Parameters
    ----------
    adata
        Cells × genes.
    group_key
        ``obs`` column of the groups.
    layer
        Layer to average (default ``X``, log-normalised).
    cells
        Optional row indices to restrict to (e.g. the binned cells).

    Returns
    -------
    pd.DataFrame
        ``(n_groups, n_genes)``, index = group names.
    """
    if group_key not in adata.obs:
        raise ValueError(
            f"obs key {group_key!r} not found; available obs columns: {list(adata.obs.columns)}"
        )
    rows = np.arange(adata.n_obs) if cells is None else np.asarray(cells)
    matrix = adata.X if layer is None else adata.layers[layer]
    groups = adata.obs[group_key].to_numpy()[rows].astype(str)
    names, codes = np.unique(groups, return_inverse=True)
    indicator = sp.csr_matrix((np.ones(rows.size), (codes, np.arange(rows.size))))
    sums = indicator @ (matrix[rows] if sp.issparse(matrix) else np.asarray(matrix)[rows])
    sums = sums.toarray() if sp.issparse(sums) else np.asarray(sums)
    means = sums.astype(np.float64) / np.bincount(codes)[:, None]
    return pd.DataFrame(means, index=names, columns=adata.var_names)
