"""Which cells are kept and how genes are scaled: group filters, stratified
downsampling and train/test split, per-gene centring and scaling.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import check_adata
from ._common import _maybe_copy, gene_mean_var

# one logger for the package: log lines read "sivae.pp" whichever module wrote them
logger = logging.getLogger(__package__)


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
