"""Equal-sized bins of cells per group (cohort analyses) and their files."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._validation import atomic_write_h5ad, check_adata

# one logger for the package: log lines read "sivae.pp" whichever module wrote them
logger = logging.getLogger(__package__)


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
