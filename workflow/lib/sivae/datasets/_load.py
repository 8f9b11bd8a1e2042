"""Load a dataset declared in the workflow config.

A config entry under ``datasets:`` looks like::

    my_data:
      source: file                 # builtin | file | url
      path: data/my_data.h5ad      # file: where it is; url: where it is saved
      url: https://...             # url only
      sha256: 0123...              # url only, optional
      reader: h5ad                 # see READERS; guessed from the file name if absent
      reader_args: {}              # extra keyword arguments of the reader
      label_key: cell_type         # obs keys the analyses use (all optional)
      batch_key: batch
      group_key: donor
      phenotype_key: efficiency
      gene_sets: resources/kegg.gmt

Builtin entries name the generator in ``builtin`` (default: the dataset name)
and pass ``params`` to it, e.g. ``{source: builtin, builtin: hub_network,
params: {n_cells: 2000}}``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlparse

import anndata as ad
import pandas as pd
import scipy.sparse as sp

from .._validation import check_adata, read_h5ad_checked
from . import _builtin, _readers, _simulate
from ._download import download

logger = logging.getLogger(__name__)

__all__ = ["load", "local_path", "BUILTINS", "READERS", "DATASET_KEYS"]

#: obs keys a config entry may name; each must exist in the loaded data.
DATASET_KEYS = ("label_key", "batch_key", "group_key", "phenotype_key")


def _cohort(**kwargs):
    from ._cohort import cohort

    return cohort(**kwargs)


BUILTINS: dict[str, Callable[..., ad.AnnData]] = {
    "hub_network": _simulate.hub_network,
    "toy_network": _simulate.toy_network,
    "pbmc68k_reduced": _builtin.pbmc68k_reduced,
    "digits": _builtin.digits,
    "cohort": _cohort,
}


def _read_table(path: Path, sep: str | None = None, transpose: bool = False) -> ad.AnnData:
    """A delimited table with cell names in the first column and genes as columns."""
    if sep is None:
        sep = "\t" if path.name.removesuffix(".gz").endswith((".tsv", ".txt")) else ","
    frame = pd.read_csv(path, sep=sep, index_col=0)
    if transpose:
        frame = frame.T
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValueError(f"{path}: non-numeric columns {non_numeric[:5]} in the expression table")
    return ad.AnnData(
        X=frame.to_numpy(dtype="float32"),
        obs=pd.DataFrame(index=frame.index.astype(str)),
        var=pd.DataFrame(index=frame.columns.astype(str)),
    )


def _read_mtx(path: Path, transpose: bool = True) -> ad.AnnData:
    """A Matrix Market file; features × cells (10x / GEO layout) unless ``transpose=False``."""
    import scanpy as sc

    adata = sc.read_mtx(path)
    return adata.T.copy() if transpose else adata


def _read_10x_mtx(path: Path, **kwargs) -> ad.AnnData:
    import scanpy as sc

    adata = sc.read_10x_mtx(path, cache=False, **kwargs)
    adata.var_names_make_unique()
    return adata


def _read_10x_h5(path: Path, **kwargs) -> ad.AnnData:
    import scanpy as sc

    adata = sc.read_10x_h5(path, **kwargs)
    adata.var_names_make_unique()
    return adata


READERS: dict[str, Callable[..., ad.AnnData]] = {
    "h5ad": lambda path, **kw: read_h5ad_checked(path, **kw),
    "10x_h5": _read_10x_h5,
    "10x_mtx": _read_10x_mtx,
    "mtx": _read_mtx,
    "csv": _read_table,
    "tsv": lambda path, **kw: _read_table(path, sep="\t", **kw),
    "fetal_liver": _readers.read_fetal_liver,
    "large_brain_atlas": _readers.read_large_brain_atlas,
    "snare_seq": _readers.read_snare_seq,
    "neurdiff": _readers.read_neurdiff,
    "sea_ad": _readers.read_sea_ad,
    "mnist": _readers.read_mnist,
    "cifar10": _readers.read_cifar10,
}


def _guess_reader(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix, reader in (
        (".h5ad", "h5ad"),
        (".h5", "10x_h5"),
        (".mtx", "mtx"),
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".txt", "tsv"),
    ):
        if name.endswith(suffix):
            return reader
    if path.is_dir():
        return "10x_mtx"
    raise ValueError(f"cannot guess a reader for {str(path)!r}; set 'reader' in the config")


def local_path(name: str, entry: Mapping, data_dir: str | os.PathLike = "resources/data") -> Path:
    """Where a ``file`` / ``url`` dataset lives on disk.

    ``path`` if given (absolute, or relative to the working directory when it
    exists there, else to ``data_dir``); for ``url`` entries without ``path``,
    ``data_dir/<name>/<file name of the URL>``.
    """
    if entry.get("path"):
        path = Path(entry["path"])
        if path.is_absolute() or path.exists():
            return path
        return Path(data_dir) / path
    if entry.get("source") == "url" and entry.get("url"):
        file_name = Path(urlparse(entry["url"]).path).name or "download"
        return Path(data_dir) / name / file_name
    raise ValueError(f"dataset {name!r}: the config entry needs a 'path'")


def load(
    name: str,
    entry: Mapping,
    data_dir: str | os.PathLike = "resources/data",
    download_missing: bool = False,
) -> ad.AnnData:
    """Load the dataset described by a config entry and check its keys.

    Parameters
    ----------
    name
        Dataset name (used in messages and as the default builtin name).
    entry
        The config entry (see the module docstring).
    data_dir
        Base directory of downloads and relative paths.
    download_missing
        For ``source: url``, download the file when it is not on disk yet
        (the workflow downloads in its own rule and leaves this ``False``).

    Returns
    -------
    AnnData with ``uns["dataset"]`` = ``{"name": name, <key>: <obs column>}``.

    Raises
    ------
    ValueError
        Unknown source, builtin or reader; a named obs key absent from the data;
        non-finite values, duplicated names or empty data.
    FileNotFoundError
        A ``file``/``url`` dataset or its ``gene_sets`` file is missing.
    """
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"dataset {name!r}: config entry must be a mapping, got {type(entry).__name__}"
        )
    source = entry.get("source", "file")
    if source == "builtin":
        builtin = entry.get("builtin", name)
        if builtin not in BUILTINS:
            raise ValueError(
                f"dataset {name!r}: unknown builtin {builtin!r}; choose from {sorted(BUILTINS)}"
            )
        adata = BUILTINS[builtin](**dict(entry.get("params") or {}))
    elif source in ("file", "url"):
        path = local_path(name, entry, data_dir)
        if not path.exists():
            if source == "url" and download_missing:
                if not entry.get("url"):
                    raise ValueError(f"dataset {name!r}: source 'url' needs a 'url'")
                download(entry["url"], path, sha256=entry.get("sha256"))
            else:
                hint = " (run the download rule first)" if source == "url" else ""
                raise FileNotFoundError(f"dataset {name!r}: {str(path)!r} does not exist{hint}")
        reader = entry.get("reader") or _guess_reader(path)
        if reader not in READERS:
            raise ValueError(
                f"dataset {name!r}: unknown reader {reader!r}; choose from {sorted(READERS)}"
            )
        kwargs = dict(entry.get("reader_args") or {})
        if reader == "h5ad":
            kwargs.setdefault("dataset", name)
        adata = READERS[reader](path, **kwargs)
    else:
        raise ValueError(
            f"dataset {name!r}: unknown source {source!r}; use 'builtin', 'file' or 'url'"
        )

    keys = {k: entry.get(k) for k in DATASET_KEYS if entry.get(k) is not None}
    check_adata(adata, dataset=name, keys=keys.values())
    gene_sets = entry.get("gene_sets")
    if gene_sets is not None and not Path(gene_sets).is_file():
        raise FileNotFoundError(
            f"dataset {name!r}: gene_sets file {str(gene_sets)!r} does not exist"
        )
    if sp.issparse(adata.X) and not isinstance(adata.X, sp.csr_matrix):
        adata.X = sp.csr_matrix(adata.X)
    adata.uns["dataset"] = {"name": name, **keys}
    logger.info("dataset %s: %d cells × %d features loaded", name, adata.n_obs, adata.n_vars)
    return adata
