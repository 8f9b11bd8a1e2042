"""Quality-control filters, total-count normalisation and variable-gene selection."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anndata as ad
import numpy as np
import scipy.sparse as sp

from .._validation import check_adata, check_keys
from ._common import _maybe_copy, gene_mean_var

# one logger for the package: log lines read "sivae.pp" whichever module wrote them
logger = logging.getLogger(__package__)


def qc(
    adata: ad.AnnData,
    min_genes: int | None = 200,
    min_cells: int | None = 3,
    max_genes: int | None = None,
    max_mito: float | None = None,
    mito_prefix: str | Sequence[str] = ("MT-", "mt-"),
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Quality-control filters on cells and genes (paper defaults for the fetal liver).

    Cells are filtered first (``min_genes``, ``max_genes``, ``max_mito``),
    then genes (``min_cells``), so gene counts reflect the kept cells.

    Parameters
    ----------
    adata
        Cells × genes, counts in ``X``.
    min_genes
        Keep cells with at least this many detected genes (``None``: no filter).
    min_cells
        Keep genes detected in at least this many cells.
    max_genes
        Keep cells with fewer than this many detected genes (paper: 8000).
    max_mito
        Keep cells whose fraction of counts from genes starting with
        ``mito_prefix`` is below this (paper: 0.2).
    mito_prefix
        Prefix(es) of mitochondrial gene names.
    dataset
        Name used in messages.

    Returns
    -------
    The filtered AnnData; ``obs["n_genes"]``, ``obs["total_counts"]``,
    ``obs["mito_fraction"]`` (fraction, if ``max_mito`` is set) and
    ``var["n_cells"]`` are added.

    Raises
    ------
    ValueError
        If no cell or no gene passes.
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset)
    x = adata.X
    detected = (x > 0) if sp.issparse(x) else (np.asarray(x) > 0)
    n_genes = np.asarray(detected.sum(axis=1)).ravel()
    totals = np.asarray(x.sum(axis=1)).ravel().astype(np.float64)
    adata.obs["n_genes"] = n_genes
    adata.obs["total_counts"] = totals

    keep = np.ones(adata.n_obs, dtype=bool)
    reasons = {}
    if min_genes is not None:
        reasons[f"fewer than {min_genes} genes"] = n_genes < min_genes
    if max_genes is not None:
        reasons[f"at least {max_genes} genes"] = n_genes >= max_genes
    if max_mito is not None:
        prefixes = (mito_prefix,) if isinstance(mito_prefix, str) else tuple(mito_prefix)
        is_mito = adata.var_names.str.startswith(prefixes)
        if not is_mito.any():
            logger.warning(
                "%s: no gene names start with %s; the mitochondrial filter keeps every cell",
                dataset,
                prefixes,
            )
        mito = np.asarray(x[:, np.flatnonzero(is_mito)].sum(axis=1)).ravel()
        frac = np.divide(mito, totals, out=np.zeros_like(totals), where=totals > 0)
        adata.obs["mito_fraction"] = frac
        reasons[f"mitochondrial fraction >= {max_mito}"] = frac >= max_mito
    for reason, fail in reasons.items():
        if fail.any():
            logger.info("%s: %d cells removed with %s", dataset, int(fail.sum()), reason)
        keep &= ~fail
    if not keep.any():
        raise ValueError(
            f"dataset {dataset!r}: no cells left after QC ({adata.n_obs} cells before); "
            f"thresholds min_genes={min_genes}, max_genes={max_genes}, max_mito={max_mito}"
        )
    if not keep.all():
        adata._inplace_subset_obs(keep)

    n_cells = np.asarray(((adata.X > 0) if sp.issparse(adata.X) else (adata.X > 0)).sum(axis=0))
    n_cells = n_cells.ravel()
    adata.var["n_cells"] = n_cells
    if min_cells is not None:
        keep_genes = n_cells >= min_cells
        if not keep_genes.any():
            raise ValueError(
                f"dataset {dataset!r}: no genes detected in at least {min_cells} cells after QC"
            )
        if not keep_genes.all():
            logger.info(
                "%s: %d genes removed (detected in fewer than %d cells)",
                dataset,
                int((~keep_genes).sum()),
                min_cells,
            )
            adata._inplace_subset_var(keep_genes)
    logger.info("%s: %d cells × %d genes after QC", dataset, adata.n_obs, adata.n_vars)
    return adata


def normalize(
    adata: ad.AnnData,
    target_sum: float = 1e4,
    log1p: bool = True,
    counts_layer: str | None = "counts",
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Scale each cell to ``target_sum`` total counts (TP10K) and take ``log1p``.

    Same arithmetic as ``scanpy.pp.normalize_total`` + ``scanpy.pp.log1p``,
    done in numpy/scipy so sparse data stay sparse and nothing is JIT-compiled.

    Parameters
    ----------
    target_sum
        Total per cell after normalisation (paper: 10⁴).
    log1p
        Apply ``log(1 + x)`` afterwards.
    counts_layer
        If set and absent, the counts are kept in ``layers[counts_layer]``
        first (NB models train on them).

    Returns
    -------
    AnnData with normalised float32 ``X``; ``uns["normalize"]`` records the settings.
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset, counts=True)
    if counts_layer is not None and counts_layer not in adata.layers:
        adata.layers[counts_layer] = adata.X.copy()
    x = adata.X
    totals = np.asarray(x.sum(axis=1), dtype=np.float64).ravel()
    empty = totals == 0
    if empty.any():
        logger.warning(
            "%s: %d cells have zero counts; they stay all-zero after normalisation",
            dataset,
            int(empty.sum()),
        )
    factor = np.divide(target_sum, totals, out=np.zeros_like(totals), where=~empty)
    if sp.issparse(x):
        x = sp.csr_matrix(sp.diags(factor) @ sp.csr_matrix(x, dtype=np.float64))
        if log1p:
            np.log1p(x.data, out=x.data)
        x = x.astype(np.float32)
    else:
        x = np.asarray(x, dtype=np.float64) * factor[:, None]
        x = (np.log1p(x) if log1p else x).astype(np.float32)
    adata.X = x
    adata.uns["normalize"] = {"target_sum": target_sum, "log1p": log1p}
    return adata


def _top_variance(x, n_top: int) -> np.ndarray:
    """Indices of the ``n_top`` highest-variance columns (ties broken by position)."""
    _, var = gene_mean_var(x)
    order = np.argsort(-var, kind="stable")
    return order[: min(n_top, len(order))]


def hvg(
    adata: ad.AnnData,
    n_top_genes: int = 2000,
    group_key: str | None = None,
    flavor: str = "variance",
    subset: bool = True,
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Select the most variable genes.

    Parameters
    ----------
    n_top_genes
        Number of genes ranked highest (per group and overall when ``group_key`` is set).
    group_key
        ``obs`` column of groups (cell line, donor). When set, the selection is
        the union of the top ``n_top_genes`` by variance within each group and
        the top ``n_top_genes`` across all cells (NeurDiff and SEA-AD in the paper).
    flavor
        ``"variance"``: rank by per-gene variance of ``X`` (the paper's
        "highest variance"). Any scanpy flavor (``"seurat"``, ``"cell_ranger"``,
        ``"seurat_v3"``) is passed to :func:`scanpy.pp.highly_variable_genes`
        (only without ``group_key``).
    subset
        Keep only the selected genes; otherwise only annotate.

    Returns
    -------
    AnnData with ``var["highly_variable"]`` (bool) and ``var["variance"]``.
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset)
    if n_top_genes < 1:
        raise ValueError(f"dataset {dataset!r}: n_top_genes must be >= 1, got {n_top_genes}")
    _, variance = gene_mean_var(adata.X)
    adata.var["variance"] = variance
    if flavor == "variance":
        selected = np.zeros(adata.n_vars, dtype=bool)
        selected[_top_variance(adata.X, n_top_genes)] = True
        if group_key is not None:
            check_keys(adata, [group_key], dataset)
            groups = adata.obs[group_key].astype("category")
            for group in groups.cat.categories:
                rows = np.flatnonzero((groups == group).to_numpy())
                if rows.size < 2:
                    logger.info(
                        "%s: group %r has %d cell(s); skipped in per-group HVG",
                        dataset,
                        group,
                        rows.size,
                    )
                    continue
                selected[_top_variance(adata.X[rows], n_top_genes)] = True
    else:
        if group_key is not None:
            raise ValueError(
                f"dataset {dataset!r}: hvg with group_key supports flavor='variance' only, "
                f"got {flavor!r}"
            )
        import scanpy as sc

        result = sc.pp.highly_variable_genes(
            adata, n_top_genes=n_top_genes, flavor=flavor, inplace=False
        )
        selected = np.asarray(result["highly_variable"], dtype=bool)
    adata.var["highly_variable"] = selected
    logger.info("%s: %d highly variable genes selected", dataset, int(selected.sum()))
    if subset and not selected.all():
        adata._inplace_subset_var(selected)
    return adata
