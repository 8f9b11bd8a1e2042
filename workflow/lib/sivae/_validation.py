"""Input checks shared by the data loaders, preprocessing and the rule scripts.

Every check raises one :class:`ValueError` (or :class:`FileNotFoundError`) whose
message names the dataset and the problem, so that a failing Snakemake rule
says what to fix in the config or the data instead of crashing later with a
NaN loss or an index error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = [
    "check_adata",
    "check_keys",
    "dense_matrix",
    "read_h5ad_checked",
    "atomic_write_h5ad",
]

# The HDF5 signature every .h5ad file starts with.
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _values(matrix) -> np.ndarray:
    """The stored values of a dense or sparse matrix (no densifying)."""
    if sp.issparse(matrix):
        return np.asarray(matrix.data)
    return np.asarray(matrix)


def check_keys(adata: ad.AnnData, keys: Iterable[str | None], dataset: str = "data") -> None:
    """Check that every named ``obs`` key exists.

    Parameters
    ----------
    adata
        Annotated data matrix.
    keys
        Column names expected in ``adata.obs``; ``None`` entries are ignored
        (a config key that was not set).
    dataset
        Name used in the error message.

    Raises
    ------
    ValueError
        Naming the dataset, the missing key(s) and the available columns.
    """
    missing = [k for k in keys if k is not None and k not in adata.obs.columns]
    if missing:
        raise ValueError(
            f"dataset {dataset!r}: obs key(s) {missing} named in the config are absent from the "
            f"data; available obs columns: {list(adata.obs.columns)}"
        )


def check_adata(
    adata: ad.AnnData,
    dataset: str = "data",
    counts: bool = False,
    keys: Iterable[str | None] = (),
    layer: str | None = None,
) -> ad.AnnData:
    """Validate an AnnData before it enters the pipeline.

    Parameters
    ----------
    adata
        Annotated data matrix (cells × genes).
    dataset
        Name used in error messages.
    counts
        If ``True``, the matrix must hold counts: negative values are an error.
    keys
        ``obs`` columns that must exist (``None`` entries are skipped).
    layer
        Check ``adata.layers[layer]`` instead of ``adata.X``.

    Returns
    -------
    The same ``adata`` (for chaining).

    Raises
    ------
    ValueError
        For empty data, duplicated cell or gene names, non-finite values,
        negative counts, or a missing key; one message naming the dataset.
    """
    if not isinstance(adata, ad.AnnData):
        raise ValueError(f"dataset {dataset!r}: expected an AnnData, got {type(adata).__name__}")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(
            f"dataset {dataset!r}: no data left ({adata.n_obs} cells × {adata.n_vars} genes); "
            "check the input file and the QC thresholds"
        )
    for axis, names in (("cell", adata.obs_names), ("gene", adata.var_names)):
        if not names.is_unique:
            dup = names[names.duplicated()].unique()[:5].tolist()
            raise ValueError(
                f"dataset {dataset!r}: {names.duplicated().sum()} duplicated {axis} names "
                f"(e.g. {dup}); make them unique (AnnData.{'obs' if axis == 'cell' else 'var'}"
                "_names_make_unique())"
            )
    if layer is not None and layer not in adata.layers:
        raise ValueError(
            f"dataset {dataset!r}: layer {layer!r} not found; available layers: "
            f"{list(adata.layers.keys())}"
        )
    matrix = adata.X if layer is None else adata.layers[layer]
    if matrix is None:
        raise ValueError(f"dataset {dataset!r}: the data matrix X is empty (None)")
    values = _values(matrix)
    if np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.complexfloating):
        n_bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        if n_bad:
            raise ValueError(
                f"dataset {dataset!r}: {n_bad} non-finite values (NaN or Inf) in "
                f"{'X' if layer is None else f'layer {layer!r}'}"
            )
    if counts and values.size and values.min() < 0:
        raise ValueError(
            f"dataset {dataset!r}: counts were expected but {int((values < 0).sum())} values are "
            f"negative (min {values.min():.3g}); point the config at raw counts"
        )
    check_keys(adata, keys, dataset)
    return adata


def dense_matrix(adata: ad.AnnData, layer: str | None = None, dataset: str = "data") -> np.ndarray:
    """``adata.X`` or ``adata.layers[layer]`` as a dense array, checked.

    Parameters
    ----------
    adata
        Annotated data matrix (cells × genes).
    layer
        Layer to read (``None``: ``X``).
    dataset
        Name used in error messages.

    Returns
    -------
    ``(n_cells, n_genes)`` dense array in the matrix's own dtype.

    Raises
    ------
    ValueError
        If the layer is missing or holds non-finite values (see :func:`check_adata`).
    """
    check_adata(adata, dataset=dataset, layer=layer)
    matrix = adata.X if layer is None else adata.layers[layer]
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def read_h5ad_checked(path: str | os.PathLike, dataset: str = "data") -> ad.AnnData:
    """Read an ``.h5ad`` file with a clear error when it is missing or not an h5ad.

    Parameters
    ----------
    path
        File to read.
    dataset
        Name used in error messages.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not an HDF5 file or anndata cannot read it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset {dataset!r}: file {str(path)!r} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(len(_HDF5_MAGIC))
    if head != _HDF5_MAGIC:
        raise ValueError(
            f"dataset {dataset!r}: file {str(path)!r} is not an .h5ad (HDF5) file "
            "(wrong signature; truncated download or another format?)"
        )
    try:
        return ad.read_h5ad(path)
    except Exception as err:  # anndata raises many types on corrupt files
        raise ValueError(
            f"dataset {dataset!r}: could not read {str(path)!r} as .h5ad: {err}"
        ) from err


def atomic_write_h5ad(adata: ad.AnnData, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``adata`` to ``path`` via a temporary file and an atomic rename.

    A crash mid-write leaves no partial file at ``path`` (Snakemake would
    otherwise treat it as a finished output).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        adata.write_h5ad(tmp, **kwargs)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_tsv(table, path: str | os.PathLike, index: bool = False) -> Path:
    """Write a DataFrame as TSV via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        table.to_csv(tmp, sep="\t", index=index)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def log_to_file(path: str | os.PathLike) -> logging.Logger:
    """Send stderr and every ``logging`` record to ``path`` (a Snakemake rule's log).

    Rule scripts call this first, so library progress, warnings and errors land in
    ``logs/<rule>/...``; returns the script's logger.
    """
    sys.stderr = open(path, "w")  # noqa: SIM115 - lives as long as the rule's process
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        force=True,
    )
    return logging.getLogger("sivae.rule")
