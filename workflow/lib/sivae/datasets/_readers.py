"""Readers turning the paper's downloaded files into AnnData (cells × features).

Each reader follows the format the data's host documents; the tests exercise
them on small synthetic files of the same format. Counts stay sparse (CSR).

- fetal liver atlas (E-MTAB-7407, processed): per-sample 10x mtx directories
  ``<source>/GRCh38/`` plus ``<source>/<source>.csv`` -> :func:`read_fetal_liver`
- LargeBrainAtlas (10x 1.3M brain cells): Cell Ranger ``.h5`` -> :func:`read_large_brain_atlas`
- BrainCortex (GSE126074 SNARE-seq): ``*.counts.mtx.gz`` + barcodes + peaks/genes
  -> :func:`read_snare_seq`
- NeurDiff (zenodo 4333872): ``D11.h5``, an h5ad -> :func:`read_neurdiff`
- DementiaDataset (SEA-AD, cellxgene): ``.h5ad`` -> :func:`read_sea_ad`
- MNIST / Fashion-MNIST: IDX ``*-idx3-ubyte(.gz)`` + labels -> :func:`read_mnist`
- CIFAR-10: ``cifar-10-python.tar.gz`` (pickled batches) -> :func:`read_cifar10`
"""

from __future__ import annotations

import gzip
import logging
import os
import pickle
import struct
import tarfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from .._validation import check_keys, read_h5ad_checked

logger = logging.getLogger(__name__)

__all__ = [
    "read_fetal_liver",
    "read_large_brain_atlas",
    "read_snare_seq",
    "read_neurdiff",
    "read_sea_ad",
    "read_mnist",
    "read_cifar10",
]

#: CIFAR-10 class indices kept by the paper (airplane, ship).
CIFAR10_CLASSES = {0: "airplane", 8: "ship"}


def _exists(path: Path, dataset: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"dataset {dataset!r}: {str(path)!r} does not exist")
    return path


def _open(path: Path):
    """Open a plain or gzip-compressed file for binary reading."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_fetal_liver(root: str | os.PathLike, sdrf: str | os.PathLike | None = None) -> ad.AnnData:
    """Fetal liver atlas (Popescu et al. 2019), ArrayExpress E-MTAB-7407, processed files.

    The processed archives unpack to one directory per sample ("Source
    Name"), holding a 10x matrix in ``<source>/GRCh38/`` (``matrix.mtx``,
    ``genes.tsv``, ``barcodes.tsv``) and per-cell annotations in
    ``<source>/<source>.csv`` whose ``Cell.Labels`` column is the cell type.

    Parameters
    ----------
    root
        Directory containing the sample directories.
    sdrf
        Optional ``E-MTAB-7407.sdrf.txt``; its ``Characteristics[...]`` /
        ``Factor Value[...]`` columns are copied to every cell of that sample.

    Returns
    -------
    AnnData of counts (CSR), ``obs["cell_type"]`` (from ``Cell.Labels``),
    ``obs["sample"]``; obs names ``"<sample>:<barcode>"``.
    """
    import scanpy as sc

    root = _exists(Path(root), "fetal_liver")
    sample_meta = None
    if sdrf is not None:
        sample_meta = pd.read_csv(_exists(Path(sdrf), "fetal_liver"), sep="\t")
        sample_meta = sample_meta.drop_duplicates("Source Name").set_index("Source Name")
    parts = []
    for sample_dir in sorted(p for p in root.iterdir() if (p / "GRCh38").is_dir()):
        source = sample_dir.name
        part = sc.read_10x_mtx(sample_dir / "GRCh38", var_names="gene_symbols", cache=False)
        meta_file = sample_dir / f"{source}.csv"
        if not meta_file.is_file():
            logger.warning("fetal_liver: %s has no %s; sample skipped", source, meta_file.name)
            continue
        meta = pd.read_csv(meta_file)
        if len(meta) != part.n_obs or "Cell.Labels" not in meta.columns:
            raise ValueError(
                f"dataset 'fetal_liver': {meta_file} must have a 'Cell.Labels' column and one "
                f"row per barcode ({part.n_obs}), got {len(meta)} rows, columns {list(meta.columns)}"
            )
        meta.index = [f"{source}:{b}" for b in part.obs_names]
        meta["sample"] = source
        meta["cell_type"] = meta["Cell.Labels"].astype(str)
        if sample_meta is not None and source in sample_meta.index:
            for column, value in sample_meta.loc[source].items():
                if column.startswith(("Characteristics", "Factor Value")):
                    meta[column] = value
        part.obs = meta
        parts.append(part)
    if not parts:
        raise ValueError(f"dataset 'fetal_liver': no sample directories with GRCh38/ in {root}")
    adata = ad.concat(parts, join="outer", merge="same")
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    adata.var_names_make_unique()
    for col in ("cell_type", "sample"):
        adata.obs[col] = adata.obs[col].astype("category")
    return adata


def read_large_brain_atlas(path: str | os.PathLike, genome: str | None = None) -> ad.AnnData:
    """10x Genomics "1.3 Million Brain Cells from E18 Mice" (LargeBrainAtlas).

    Reads the Cell Ranger HDF5 matrix with :func:`scanpy.read_10x_h5`; counts
    stay sparse, gene symbols are made unique.
    """
    import scanpy as sc

    path = _exists(Path(path), "large_brain_atlas")
    adata = sc.read_10x_h5(path, genome=genome)
    adata.var_names_make_unique()
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    return adata


def read_snare_seq(prefix: str | os.PathLike, modality: str = "chromatin") -> ad.AnnData:
    """SNARE-seq adult brain cortex (GEO GSE126074), "BrainCortex" in the paper.

    GEO ships each modality as a features × cells Matrix Market file plus
    barcodes and feature names: ``<prefix>_<modality>.counts.mtx(.gz)``,
    ``<prefix>_<modality>.barcodes.tsv(.gz)`` and
    ``<prefix>_<modality>.peaks.tsv(.gz)`` (chromatin) or ``.genes.tsv(.gz)``
    (cDNA).

    Parameters
    ----------
    prefix
        Path prefix, e.g. ``resources/data/GSE126074_AdBrainCortex_SNAREseq``.
    modality
        ``"chromatin"`` (the paper's 244,544 features after QC) or ``"cDNA"``.

    Returns
    -------
    AnnData cells × features, CSR float32 counts.
    """
    if modality not in ("chromatin", "cDNA"):
        raise ValueError(
            f"dataset 'snare_seq': modality must be 'chromatin' or 'cDNA', got {modality!r}"
        )
    base = f"{prefix}_{modality}"
    features_name = "peaks" if modality == "chromatin" else "genes"

    def find(stem: str) -> Path:
        for candidate in (Path(f"{base}.{stem}.gz"), Path(f"{base}.{stem}")):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"dataset 'snare_seq': neither {base}.{stem}(.gz) exists")

    with _open(find("counts.mtx")) as fh:
        matrix = scipy.io.mmread(fh)
    barcodes = pd.read_csv(find("barcodes.tsv"), header=None, sep="\t")[0].astype(str)
    features = pd.read_csv(find(f"{features_name}.tsv"), header=None, sep="\t")[0].astype(str)
    if matrix.shape != (len(features), len(barcodes)):
        raise ValueError(
            f"dataset 'snare_seq': matrix shape {matrix.shape} does not match "
            f"{len(features)} {features_name} × {len(barcodes)} barcodes"
        )
    adata = ad.AnnData(
        X=sp.csr_matrix(matrix.T, dtype=np.float32),
        obs=pd.DataFrame(index=pd.Index(barcodes.to_numpy())),
        var=pd.DataFrame(index=pd.Index(features.to_numpy())),
    )
    adata.var_names_make_unique()
    return adata


def read_neurdiff(
    path: str | os.PathLike,
    efficiency: str | os.PathLike | None = None,
    line_key: str = "donor_id",
    efficiency_key: str = "diff_efficiency",
) -> ad.AnnData:
    """iPSC neuronal differentiation (Jerber et al. 2021, zenodo 4333872), "NeurDiff".

    ``D11.h5`` is an h5ad with pre-normalised expression and obs columns
    ``donor_id`` (cell line), ``celltype`` (``FPP``, ``P_FPP``, ...), ``pool_id``
    and ``sample_id``.

    Parameters
    ----------
    path
        The downloaded ``D11.h5``.
    efficiency
        Optional CSV with one row per line: ``line_key`` and ``efficiency_key``
        columns (the paper's differentiation efficiency; the original analysis
        read ``diff_efficiency_neur.csv``). Lines absent from it, with a missing
        value, or marked ``in_study == "not_assessed"`` are dropped (logged).

    Returns
    -------
    AnnData; with ``efficiency``, ``obs[efficiency_key]`` is set per cell.
    """
    adata = read_h5ad_checked(path, dataset="neurdiff")
    check_keys(adata, [line_key], "neurdiff")
    if efficiency is not None:
        table = pd.read_csv(_exists(Path(efficiency), "neurdiff"))
        missing = [c for c in (line_key, efficiency_key) if c not in table.columns]
        if missing:
            raise ValueError(
                f"dataset 'neurdiff': efficiency table {efficiency} lacks columns {missing}"
            )
        if "in_study" in table.columns:
            # the original analysis dropped the lines Jerber et al. did not assess
            assessed = table["in_study"].astype(str) != "not_assessed"
            if not assessed.all():
                logger.info(
                    "neurdiff: %d lines marked in_study == 'not_assessed' dropped",
                    int((~assessed).sum()),
                )
            table = table[assessed]
        values = pd.to_numeric(
            table.drop_duplicates(line_key).set_index(line_key)[efficiency_key], errors="coerce"
        )
        per_cell = adata.obs[line_key].astype(str).map(values.rename(index=str))
        keep = per_cell.notna().to_numpy()
        if not keep.all():
            dropped = adata.obs.loc[~keep, line_key].astype(str).unique()
            logger.info(
                "neurdiff: %d cells of %d lines without efficiency dropped (%s)",
                int((~keep).sum()),
                len(dropped),
                list(dropped[:5]),
            )
        adata = adata[keep].copy()
        adata.obs[efficiency_key] = per_cell[keep].to_numpy(dtype=np.float64)
    return adata


def read_sea_ad(
    path: str | os.PathLike,
    cell_type: str | None = None,
    cell_type_key: str = "cell_type",
    use_raw_counts: bool = True,
) -> ad.AnnData:
    """SEA-AD (Seattle Alzheimer's Disease Brain Cell Atlas), cellxgene h5ad ("DementiaDataset").

    cellxgene files hold normalised values in ``X`` and counts in ``raw.X``.

    Parameters
    ----------
    cell_type
        Keep only cells with ``obs[cell_type_key] == cell_type`` (the paper
        analysed L2/3, L4, L5 IT neurons, oligodendrocytes and Vip cells separately).
    use_raw_counts
        Put ``raw.X`` (counts) into ``X`` and drop ``.raw``; otherwise keep ``X``.
    """
    adata = read_h5ad_checked(path, dataset="sea_ad")
    if cell_type is not None:
        check_keys(adata, [cell_type_key], "sea_ad")
        keep = (adata.obs[cell_type_key].astype(str) == cell_type).to_numpy()
        if not keep.any():
            raise ValueError(
                f"dataset 'sea_ad': no cells with {cell_type_key} == {cell_type!r}; "
                f"available: {sorted(adata.obs[cell_type_key].astype(str).unique())[:20]}"
            )
        adata = adata[keep].copy()
    if use_raw_counts and adata.raw is not None:
        raw = adata.raw.to_adata()
        adata = ad.AnnData(X=raw.X, obs=adata.obs, var=raw.var, uns=adata.uns)
    if sp.issparse(adata.X):
        adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    return adata


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dims, big-endian uint8 data."""
    with _open(path) as fh:
        zero, dtype_code, ndim = struct.unpack(">HBB", fh.read(4))
        if zero != 0 or dtype_code != 0x08:
            raise ValueError(f"{path}: not an unsigned-byte IDX file (header {zero}, {dtype_code})")
        shape = struct.unpack(f">{ndim}I", fh.read(4 * ndim))
        data = np.frombuffer(fh.read(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"{path}: truncated IDX file ({data.size} of {int(np.prod(shape))} values)"
        )
    return data.reshape(shape)


def read_mnist(images: str | os.PathLike, labels: str | os.PathLike) -> ad.AnnData:
    """MNIST or Fashion-MNIST from the IDX files (``*-images-idx3-ubyte[.gz]`` + labels).

    Returns
    -------
    AnnData ``(n_images, 784)``: float32 pixel intensities (0–255) flattened
    row by row, ``obs["label"]`` categorical class index as a string.
    """
    x = _read_idx(_exists(Path(images), "mnist"))
    y = _read_idx(_exists(Path(labels), "mnist"))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"dataset 'mnist': {x.shape[0]} images but {y.shape[0]} labels")
    x = x.reshape(x.shape[0], -1)
    return _image_adata(x, y.astype(str))


def read_cifar10(path: str | os.PathLike, classes: dict[int, str] | None = None) -> ad.AnnData:
    """CIFAR-10 from ``cifar-10-python.tar.gz``, keeping airplane and ship images.

    Reads every ``data_batch_*`` and ``test_batch`` pickle. Each image row is
    the red, green then blue 32×32 planes (the paper concatenates colour
    channels and flattens).

    Parameters
    ----------
    classes
        ``{class index: name}`` to keep (default: 0 airplane, 8 ship).

    Returns
    -------
    AnnData ``(n_images, 3072)`` float32, ``obs["label"]`` class name,
    ``obs["batch_file"]`` the source batch.
    """
    classes = CIFAR10_CLASSES if classes is None else classes
    path = _exists(Path(path), "cifar10")
    data, labels, origin = [], [], []
    with tarfile.open(path, "r:*") as tar:
        members = sorted(
            (
                m
                for m in tar.getmembers()
                if Path(m.name).name.startswith(("data_batch", "test_batch"))
            ),
            key=lambda m: m.name,
        )
        if not members:
            raise ValueError(f"dataset 'cifar10': {path} holds no data_batch_* / test_batch files")
        for member in members:
            # The archive's own pickles; loading them is how CIFAR-10 is distributed.
            batch = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301
            y = np.asarray(batch[b"labels"])
            keep = np.isin(y, list(classes))
            data.append(np.asarray(batch[b"data"])[keep])
            labels.append(np.array([classes[int(v)] for v in y[keep]], dtype=object))
            origin.append(np.full(int(keep.sum()), Path(member.name).name, dtype=object))
    adata = _image_adata(np.concatenate(data), np.concatenate(labels))
    adata.obs["batch_file"] = pd.Categorical(np.concatenate(origin))
    return adata


def _image_adata(x: np.ndarray, labels: np.ndarray) -> ad.AnnData:
    obs = pd.DataFrame(
        {"label": pd.Categorical(labels)}, index=pd.Index([f"img{i}" for i in range(x.shape[0])])
    )
    var = pd.DataFrame(index=pd.Index([f"px{i}" for i in range(x.shape[1])]))
    return ad.AnnData(X=x.astype(np.float32), obs=obs, var=var)
