"""Preprocessing, scanpy style: each function takes an AnnData, modifies it in
place and returns it (``copy=True`` works on a copy instead).

The steps follow the paper's Methods ("Datasets"): QC filters, total-count
normalisation to 10⁴ and ``log1p``, selection of the most variable genes
(optionally the union over groups, as for NeurDiff and SEA-AD), regression of
batch and cell-cycle covariates, stratified downsampling, a stratified
train/test split, per-gene centring and scaling, and equal-sized bins of cells
per group for the cohort analyses.

Large sparse matrices stay sparse: :func:`scale` with ``scale=False`` only
stores ``var["mean"]`` and ``var["std"]`` so the model can standardise each
minibatch on the device.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._validation import atomic_write_h5ad, check_adata, check_keys

logger = logging.getLogger(__name__)

__all__ = [
    "preprocess",
    "STEP_ORDER",
    "filter_groups",
    "qc",
    "normalize",
    "hvg",
    "regress_out",
    "score_cell_cycle",
    "CELL_CYCLE_GENES",
    "downsample",
    "split",
    "scale",
    "make_bins",
    "write_bins",
    "gene_mean_var",
]


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


#: Tirosh et al. 2016 (Science 352:189) S-phase and G2/M marker genes, human symbols, as
#: used by scanpy's and Seurat's cell-cycle scoring. Each list also carries the current
#: HGNC symbol of the three renamed genes (MLF1IP = CENPU, FAM64A = PIMREG, HN1 = JPT1)
#: so that data annotated with either name is scored; genes absent from the data are
#: ignored by the score.
CELL_CYCLE_GENES = {
    "S": (
        "MCM5 PCNA TYMS FEN1 MCM2 MCM4 RRM1 UNG GINS2 MCM6 CDCA7 DTL PRIM1 UHRF1 MLF1IP CENPU "
        "HELLS RFC2 RPA2 NASP RAD51AP1 GMNN WDR76 SLBP CCNE2 UBR7 POLD3 MSH2 ATAD2 RAD51 RRM2 "
        "CDC45 CDC6 EXO1 TIPIN DSCC1 BLM CASP8AP2 USP1 CLSPN POLA1 CHAF1B BRIP1 E2F8"
    ).split(),
    "G2M": (
        "HMGB2 CDK1 NUSAP1 UBE2C BIRC5 TPX2 TOP2A NDC80 CKS2 NUF2 CKS1B MKI67 TMPO CENPF TACC3 "
        "FAM64A PIMREG SMC4 CCNB2 CKAP2L CKAP2 AURKB BUB1 KIF11 ANP32E TUBB4B GTSE1 KIF20B HJURP "
        "CDCA3 HN1 JPT1 CDC20 TTK CDC25C KIF2C RANGAP1 NCAPD2 DLGAP5 CDCA2 CDCA8 ECT2 KIF23 HMMR "
        "AURKA PSRC1 ANLN LBR CKAP5 CENPE CTCF NEK2 G2E3 GAS2L3 CBX5 CENPA"
    ).split(),
}


def score_cell_cycle(
    adata: ad.AnnData,
    s_genes: Sequence[str] | None = None,
    g2m_genes: Sequence[str] | None = None,
    group_key: str | None = None,
    standardize: bool = False,
    min_genes: int = 5,
    seed: int = 0,
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Score S and G2/M phase per cell, for :func:`regress_out` (NeurDiff, SEA-AD).

    The paper regressed a cell-cycle score out of the NeurDiff and SEA-AD data
    with scanpy; this is ``scanpy.tl.score_genes_cell_cycle`` on the
    log-normalised ``X`` with the Tirosh et al. marker lists
    (:data:`CELL_CYCLE_GENES`). Symbols are matched case-insensitively, so mouse
    symbols (``Mcm5``) match the human list. The original NeurDiff script scored
    each cell line separately on its per-gene standardised data
    (``group_key="donor_id", standardize=True``); ``X`` itself is not changed.

    Parameters
    ----------
    s_genes, g2m_genes
        Marker genes; default the Tirosh et al. lists.
    group_key
        Score the cells of each group (cell line, donor) separately.
    standardize
        Centre and scale each gene (within each group) before scoring, as
        ``scanpy.pp.scale`` in the original script.
    min_genes
        Fewest markers of each list that must be in ``var_names``.
    seed
        Seed of the random control genes.

    Returns
    -------
    AnnData with ``obs["S_score"]``, ``obs["G2M_score"]`` and ``obs["phase"]``
    (``"G1"``, ``"S"`` or ``"G2M"``).

    Raises
    ------
    ValueError
        When fewer than ``min_genes`` markers of a list are in the data.
    """
    import scanpy as sc

    adata = _maybe_copy(adata, copy)
    by_upper = {str(g).upper(): g for g in adata.var_names}
    found = {}
    for phase, genes in (
        ("S", CELL_CYCLE_GENES["S"] if s_genes is None else s_genes),
        ("G2M", CELL_CYCLE_GENES["G2M"] if g2m_genes is None else g2m_genes),
    ):
        found[phase] = [by_upper[g.upper()] for g in dict.fromkeys(genes) if g.upper() in by_upper]
        if len(found[phase]) < min_genes:
            raise ValueError(
                f"dataset {dataset!r}: cell-cycle scoring needs at least {min_genes} {phase} "
                f"marker genes in var_names, found {len(found[phase])} "
                f"({', '.join(found[phase]) or 'none'}); pass s_genes/g2m_genes for other symbols"
            )
    logger.info(
        "%s: cell-cycle scores from %d S and %d G2M marker genes",
        dataset,
        len(found["S"]),
        len(found["G2M"]),
    )
    if group_key is not None:
        check_adata(adata, dataset=dataset, keys=[group_key])
    scores = pd.DataFrame(index=adata.obs_names, columns=["S_score", "G2M_score", "phase"])
    for _, rows in _group_rows(adata, group_key):
        if rows.size == 0:
            continue
        part = ad.AnnData(X=adata.X[rows], var=pd.DataFrame(index=adata.var_names))
        if standardize:
            # scanpy's own scaling, as the original: after it every gene's mean is ~0, so
            # the control genes (drawn from mean-expression bins) depend on its rounding
            sc.pp.scale(part)
        sc.tl.score_genes_cell_cycle(
            part, s_genes=found["S"], g2m_genes=found["G2M"], random_state=seed
        )
        scores.iloc[rows] = part.obs[["S_score", "G2M_score", "phase"]].to_numpy()
    adata.obs["S_score"] = scores["S_score"].to_numpy(dtype=np.float64)
    adata.obs["G2M_score"] = scores["G2M_score"].to_numpy(dtype=np.float64)
    adata.obs["phase"] = pd.Categorical(scores["phase"].astype(str), categories=["G1", "S", "G2M"])
    return adata


def regress_out(
    adata: ad.AnnData,
    keys: Sequence[str],
    group_key: str | None = None,
    method: str = "numpy",
    chunk_size: int = 2048,
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Regress covariates (batch, cell-cycle scores) out of ``X``.

    ``X`` becomes the residuals of an ordinary least-squares fit of each gene
    on an intercept plus the covariates, as ``scanpy.pp.regress_out`` (the
    paper's tool) computes them. Categorical keys are expanded to indicator
    columns (first level dropped) so they can be mixed with continuous ones,
    which scanpy alone does not allow. With ``group_key``, the regression is
    fitted separately within each group (the paper corrects per cell line /
    per donor); a covariate constant within a group is skipped there, with a
    log line.

    Parameters
    ----------
    keys
        ``obs`` columns to regress out.
    group_key
        Fit within each group of this ``obs`` column.
    method
        ``"numpy"`` (default): the OLS residuals in numpy, ``chunk_size`` genes
        at a time; ``"scanpy"``: call ``scanpy.pp.regress_out`` on the
        indicator-expanded design (same result, numba-compiled, slower to start).
    chunk_size
        Genes per block for ``"numpy"`` (bounds the float64 working copy).

    Returns
    -------
    AnnData with dense float32 residuals in ``X`` (sparse input is densified).
    """
    adata = _maybe_copy(adata, copy)
    keys = [keys] if isinstance(keys, str) else list(keys)
    check_adata(adata, dataset=dataset, keys=[*keys, group_key])
    if method not in ("numpy", "scanpy"):
        raise ValueError(f"dataset {dataset!r}: method must be 'numpy' or 'scanpy', got {method!r}")
    if not keys:
        return adata
    design = _design_columns(adata.obs, keys)
    if sp.issparse(adata.X):
        logger.info("%s: regress_out densifies X (%d × %d)", dataset, adata.n_obs, adata.n_vars)
    x = _dense_float32(adata.X)
    for name, rows in _group_rows(adata, group_key):
        if rows.size == 0:
            continue
        block = design.iloc[rows]
        varying = [c for c in block.columns if block[c].nunique() > 1]
        dropped = sorted(set(block.columns) - set(varying))
        if dropped:
            logger.info(
                "%s: %s: covariates constant here, not regressed: %s", dataset, name, dropped
            )
        if not varying:
            continue
        covariates = block[varying].to_numpy(dtype=np.float64)
        if method == "numpy":
            regressors = np.column_stack([np.ones(rows.size), covariates])
            # (k, n): OLS coefficients = P @ y. A group without the first level of a
            # categorical key has indicators that sum to the intercept; pinv's default
            # cut-off can keep that ~1e-14 singular value, and the residuals go wrong.
            projector = np.linalg.pinv(regressors, rcond=1e-10)
            for start in range(0, x.shape[1], chunk_size):
                y = x[rows, start : start + chunk_size].astype(np.float64)
                y -= regressors @ (projector @ y)
                x[rows, start : start + chunk_size] = y
        else:
            import scanpy as sc

            part = ad.AnnData(
                X=x[rows].astype(np.float64),
                obs=pd.DataFrame(covariates, columns=varying, index=adata.obs_names[rows]),
            )
            sc.pp.regress_out(part, keys=varying)
            x[rows] = np.asarray(part.X, dtype=np.float32)
    adata.X = x
    adata.uns["regress_out"] = {"keys": keys, "group_key": group_key}
    return adata


def _group_rows(adata: ad.AnnData, group_key: str | None) -> list[tuple[str, np.ndarray]]:
    """``(group, row indices)`` per category of ``obs[group_key]``; all cells when ``None``."""
    if group_key is None:
        return [("all cells", np.arange(adata.n_obs))]
    groups = adata.obs[group_key].astype("category")
    return [(g, np.flatnonzero((groups == g).to_numpy())) for g in groups.cat.categories]


def _dense_float32(x) -> np.ndarray:
    """A writable dense float32 copy of ``x``."""
    return x.toarray().astype(np.float32) if sp.issparse(x) else np.array(x, dtype=np.float32)


def _design_columns(obs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Numeric regressors: continuous keys as they are, categorical ones one-hot."""
    columns = {}
    for key in keys:
        col = obs[key]
        if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
            levels = pd.Categorical(col)
            for level in levels.categories[1:]:
                columns[f"{key}=={level}"] = (levels == level).astype(np.float64)
        else:
            columns[key] = col.to_numpy(dtype=np.float64)
    return pd.DataFrame(columns, index=obs.index)


def filter_groups(
    adata: ad.AnnData,
    group_key: str,
    min_cells: int = 1000,
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Drop groups (cell lines, donors) with fewer than ``min_cells`` cells.

    The paper removed NeurDiff lines and SEA-AD donors with fewer than 1000
    cells of the analysed cell type before regression and gene selection.
    Dropped groups are logged; empty result raises ``ValueError``.
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset, keys=[group_key])
    sizes = adata.obs[group_key].astype(str).value_counts()
    small = sizes[sizes < min_cells]
    if len(small) == len(sizes):
        raise ValueError(
            f"dataset {dataset!r}: no group of {group_key!r} has at least {min_cells} cells "
            f"(largest: {int(sizes.max())})"
        )
    if len(small):
        logger.info(
            "%s: %d groups of %r with fewer than %d cells dropped (%d cells): %s",
            dataset,
            len(small),
            group_key,
            min_cells,
            int(small.sum()),
            small.index.tolist()[:10],
        )
        adata._inplace_subset_obs(~adata.obs[group_key].astype(str).isin(small.index).to_numpy())
    if isinstance(adata.obs[group_key].dtype, pd.CategoricalDtype):
        adata.obs[group_key] = adata.obs[group_key].cat.remove_unused_categories()
    return adata


def _stratified_counts(strata: pd.Series, n_total: int) -> pd.Series:
    """Cells to draw per stratum, proportional to size (largest remainder)."""
    sizes = strata.value_counts(sort=False)
    exact = sizes / sizes.sum() * n_total
    counts = np.floor(exact).astype(int)
    short = n_total - counts.sum()
    if short > 0:
        # Hand leftover cells to the strata with the largest remainders.
        order = (exact - counts).sort_values(ascending=False, kind="stable").index
        for label in order[:short]:
            counts[label] += 1
    return counts.clip(upper=sizes)


def downsample(
    adata: ad.AnnData,
    n_cells: int,
    stratify_key: str | None = None,
    seed: int = 0,
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Randomly keep ``n_cells`` cells, preserving the proportions of ``stratify_key``.

    The paper downsampled the fetal liver atlas to 100,000 cells "while
    preserving the proportion of cells from each cell type". Cell order is kept.
    If ``n_cells`` is at least the number of cells, nothing is removed.
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset, keys=[stratify_key])
    if n_cells < 1:
        raise ValueError(f"dataset {dataset!r}: n_cells must be >= 1, got {n_cells}")
    if n_cells >= adata.n_obs:
        logger.info("%s: %d cells <= target %d; no downsampling", dataset, adata.n_obs, n_cells)
        return adata
    rng = np.random.default_rng(seed)
    if stratify_key is None:
        chosen = rng.choice(adata.n_obs, size=n_cells, replace=False)
    else:
        strata = adata.obs[stratify_key].astype(str).reset_index(drop=True)
        counts = _stratified_counts(strata, n_cells)
        chosen = np.concatenate(
            [
                rng.choice(np.flatnonzero(strata.to_numpy() == label), size=k, replace=False)
                for label, k in counts.items()
            ]
        )
    keep = np.zeros(adata.n_obs, dtype=bool)
    keep[chosen] = True
    logger.info("%s: downsampled %d -> %d cells", dataset, adata.n_obs, int(keep.sum()))
    adata._inplace_subset_obs(keep)
    return adata


def split(
    adata: ad.AnnData,
    test_size: float = 0.2,
    stratify_key: str | None = None,
    seed: int = 0,
    key: str = "split",
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Mark cells ``"train"`` or ``"test"`` in ``obs[key]``, stratified by ``stratify_key``.

    Within each stratum, ``round(test_size · n)`` randomly chosen cells go to
    the test set, so every label keeps its proportion (strata of one cell stay
    in training, where ``round`` gives 0).
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset, keys=[stratify_key])
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"dataset {dataset!r}: test_size must lie in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    strata = (
        np.zeros(adata.n_obs, dtype=int)
        if stratify_key is None
        else adata.obs[stratify_key].astype(str).to_numpy()
    )
    is_test = np.zeros(adata.n_obs, dtype=bool)
    for label in pd.unique(strata):
        members = np.flatnonzero(strata == label)
        n_test = int(round(test_size * members.size))
        is_test[rng.choice(members, size=n_test, replace=False)] = True
    adata.obs[key] = pd.Categorical(
        np.where(is_test, "test", "train"), categories=["train", "test"]
    )
    return adata


def scale(
    adata: ad.AnnData,
    scale: bool = True,
    max_value: float | None = None,
    min_std: float = 1e-8,
    dataset: str = "data",
    copy: bool = False,
) -> ad.AnnData:
    """Centre each gene and scale it to unit variance; store the statistics.

    Parameters
    ----------
    scale
        If ``False``, only store ``var["mean"]`` and ``var["std"]`` and keep
        ``X`` as it is (sparse stays sparse) so the model can standardise
        each minibatch itself: ``(x - mean) / std``.
    max_value
        Clip scaled values to ``[-max_value, max_value]`` (``None``: no clipping).
    min_std
        Genes whose standard deviation is at most this are constant: they are
        dropped (with a log line) rather than divided by zero.

    Returns
    -------
    AnnData with ``var["mean"]``, ``var["std"]`` (population std, ``ddof=0``)
    and, when ``scale``, dense float32 ``X`` with mean 0 and variance 1 per gene.
    """
    adata = _maybe_copy(adata, copy)
    check_adata(adata, dataset=dataset)
    mean, var = gene_mean_var(adata.X)
    std = np.sqrt(var)
    constant = std <= min_std
    if constant.all():
        raise ValueError(f"dataset {dataset!r}: every gene is constant; nothing to scale")
    if constant.any():
        logger.info(
            "%s: %d constant genes dropped before scaling (e.g. %s)",
            dataset,
            int(constant.sum()),
            adata.var_names[constant][:5].tolist(),
        )
        adata._inplace_subset_var(~constant)
        mean, std = mean[~constant], std[~constant]
    adata.var["mean"] = mean
    adata.var["std"] = std
    if scale:
        if sp.issparse(adata.X):
            logger.info("%s: scaling densifies X (%d × %d)", dataset, adata.n_obs, adata.n_vars)
        x = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
        x = (x.astype(np.float64) - mean) / std
        if max_value is not None:
            x = np.clip(x, -max_value, max_value)
        adata.X = x.astype(np.float32)
    adata.uns["scale"] = {"scaled": scale, "max_value": max_value}
    return adata


def make_bins(
    adata: ad.AnnData,
    group_key: str,
    bin_size: int = 1000,
    seed: int = 0,
    key: str = "bin",
    dataset: str = "data",
) -> dict[str, list[np.ndarray]]:
    """Split each group's cells into random equal-sized bins of ``bin_size`` cells.

    As in the paper's cohort analyses (NeurDiff lines, SEA-AD donors): cells
    left over after the last full bin, and groups smaller than one bin, are
    discarded (logged).

    Parameters
    ----------
    group_key
        ``obs`` column of the groups (cell line, donor).
    bin_size
        Cells per bin (paper: 1000).
    seed
        Seed of the random assignment.
    key
        ``obs`` column written in place: the bin id ``"<group>_bin<i>"`` or
        NaN for discarded cells.

    Returns
    -------
    dict
        ``{group: [integer row indices of each bin, sorted]}``, groups without a
        full bin omitted.
    """
    check_adata(adata, dataset=dataset, keys=[group_key])
    if bin_size < 1:
        raise ValueError(f"dataset {dataset!r}: bin_size must be >= 1, got {bin_size}")
    rng = np.random.default_rng(seed)
    groups = adata.obs[group_key].astype("category")
    labels = np.full(adata.n_obs, None, dtype=object)
    bins: dict[str, list[np.ndarray]] = {}
    for group in groups.cat.categories:
        rows = np.flatnonzero((groups == group).to_numpy())
        n_bins = rows.size // bin_size
        if n_bins == 0:
            logger.info(
                "%s: group %r dropped: %d cells < one bin of %d",
                dataset,
                group,
                rows.size,
                bin_size,
            )
            continue
        leftover = rows.size - n_bins * bin_size
        if leftover:
            logger.info("%s: group %r: %d leftover cells discarded", dataset, group, leftover)
        shuffled = rng.permutation(rows)
        bins[str(group)] = []
        for i in range(n_bins):
            members = np.sort(shuffled[i * bin_size : (i + 1) * bin_size])
            bins[str(group)].append(members)
            labels[members] = f"{group}_bin{i}"
    if not bins:
        raise ValueError(
            f"dataset {dataset!r}: no group of {group_key!r} has at least {bin_size} cells; "
            "lower bin_size"
        )
    adata.obs[key] = pd.Categorical(labels)
    return bins


def _safe_name(text: str) -> str:
    """A file-name-safe version of a group or bin name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "group"


def write_bins(
    adata: ad.AnnData,
    bins: dict[str, list[np.ndarray]],
    out_dir: str | os.PathLike,
    dataset: str = "data",
) -> pd.DataFrame:
    """Write one ``.h5ad`` per bin into ``out_dir`` plus a ``bins.tsv`` manifest.

    Each file is written to a temporary name then renamed, and the manifest
    last, so an interrupted run never leaves a complete-looking directory.

    Returns
    -------
    DataFrame with columns ``bin``, ``group``, ``n_cells``, ``file`` (file
    name relative to ``out_dir``), one row per bin, also saved as
    ``out_dir/bins.tsv``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    used: set[str] = set()
    for group, members_list in bins.items():
        for i, members in enumerate(members_list):
            bin_id = f"{group}_bin{i}"
            fname = f"{_safe_name(group)}_bin{i}.h5ad"
            if fname in used:
                raise ValueError(
                    f"dataset {dataset!r}: groups map to the same file name {fname!r}; "
                    "rename the groups"
                )
            used.add(fname)
            part = adata[members].copy()
            part.uns["bin"] = {"bin": bin_id, "group": group, "dataset": dataset}
            atomic_write_h5ad(part, out_dir / fname)
            rows.append({"bin": bin_id, "group": group, "n_cells": len(members), "file": fname})
    manifest = pd.DataFrame(rows, columns=["bin", "group", "n_cells", "file"])
    tmp = out_dir / f".bins.tsv.{os.getpid()}.tmp"
    manifest.to_csv(tmp, sep="\t", index=False)
    os.replace(tmp, out_dir / "bins.tsv")
    return manifest


#: Order in which :func:`preprocess` applies its steps (the paper's order).
STEP_ORDER = (
    "qc",
    "normalize",
    "filter_groups",
    "cell_cycle",
    "regress_out",
    "hvg",
    "downsample",
    "split",
    "scale",
)


def preprocess(adata: ad.AnnData, steps: dict, dataset: str = "data") -> ad.AnnData:
    """Apply the configured steps in :data:`STEP_ORDER`, each with its keyword arguments.

    Parameters
    ----------
    steps
        ``{step name: kwargs}``; a step that is absent, ``None`` or ``False``
        is skipped and ``True`` means its defaults. E.g.
        ``{"qc": {"min_genes": 200, "max_mito": 0.2}, "normalize": True,
        "hvg": {"n_top_genes": 2000}, "scale": True}``.

    Returns
    -------
    The preprocessed AnnData (``adata`` is modified in place).

    Raises
    ------
    ValueError
        For an unknown step name, naming the valid ones.
    """
    unknown = sorted(set(steps) - set(STEP_ORDER))
    if unknown:
        raise ValueError(
            f"dataset {dataset!r}: unknown preprocessing step(s) {unknown}; "
            f"valid steps: {list(STEP_ORDER)}"
        )
    functions = {
        "qc": qc,
        "normalize": normalize,
        "filter_groups": filter_groups,
        "cell_cycle": score_cell_cycle,
        "regress_out": regress_out,
        "hvg": hvg,
        "downsample": downsample,
        "split": split,
        "scale": scale,
    }
    for name in STEP_ORDER:
        options = steps.get(name)
        if options is None or options is False:
            continue
        kwargs = {} if options is True else dict(options)
        kwargs.setdefault("dataset", dataset)
        logger.info("%s: preprocessing step %s %s", dataset, name, kwargs)
        adata = functions[name](adata, **kwargs)
    return adata
