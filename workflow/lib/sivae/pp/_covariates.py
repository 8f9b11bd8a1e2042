"""Cell-cycle scores and regression of covariates (batch, cell cycle) out of X."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_adata
from ._common import _maybe_copy

# one logger for the package: log lines read "sivae.pp" whichever module wrote them
logger = logging.getLogger(__package__)


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
