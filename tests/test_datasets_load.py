"""Config-driven loading and the readers of the paper's datasets, on synthetic files."""

import gzip
import io
import pickle
import struct
import tarfile

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
from sivae import datasets
from sivae.datasets._load import local_path


def _counts(n_cells=6, n_genes=4, seed=0):
    return np.random.default_rng(seed).poisson(2.0, size=(n_cells, n_genes)).astype(np.float32)


def _h5ad(path, x, obs=None, raw=None):
    adata = ad.AnnData(
        X=x,
        obs=obs if obs is not None else pd.DataFrame(index=[f"c{i}" for i in range(x.shape[0])]),
        var=pd.DataFrame(index=[f"g{i}" for i in range(x.shape[1])]),
    )
    if raw is not None:
        adata.raw = ad.AnnData(X=raw, obs=adata.obs, var=adata.var)
    adata.write_h5ad(path)
    return adata


# --- load() -----------------------------------------------------------------


def test_load_builtin_with_params():
    adata = datasets.load(
        "sim", {"source": "builtin", "builtin": "hub_network", "params": {"n_cells": 30}}
    )
    assert adata.shape == (30, 300) and adata.uns["dataset"] == {"name": "sim"}


def test_load_file_checks_keys(tmp_path):
    obs = pd.DataFrame({"cell_type": list("aabbcc")}, index=[f"c{i}" for i in range(6)])
    _h5ad(tmp_path / "mine.h5ad", _counts(), obs=obs)
    entry = {"source": "file", "path": str(tmp_path / "mine.h5ad"), "label_key": "cell_type"}
    adata = datasets.load("mine", entry)
    assert adata.uns["dataset"] == {"name": "mine", "label_key": "cell_type"}
    with pytest.raises(ValueError, match=r"dataset 'mine'.*\['donor'\].*absent"):
        datasets.load("mine", {**entry, "group_key": "donor"})


def test_load_relative_path_under_data_dir(tmp_path):
    _h5ad(tmp_path / "rel.h5ad", _counts())
    adata = datasets.load("rel", {"source": "file", "path": "rel.h5ad"}, data_dir=tmp_path)
    assert adata.n_obs == 6


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dataset 'gone'.*does not exist"):
        datasets.load("gone", {"source": "file", "path": str(tmp_path / "gone.h5ad")})
    with pytest.raises(ValueError, match="unknown source 'ftp'"):
        datasets.load("x", {"source": "ftp"})
    with pytest.raises(ValueError, match="unknown builtin 'nope'"):
        datasets.load("x", {"source": "builtin", "builtin": "nope"})
    (tmp_path / "a.weird").write_text("1")
    with pytest.raises(ValueError, match="cannot guess a reader"):
        datasets.load("x", {"source": "file", "path": str(tmp_path / "a.weird")})
    with pytest.raises(ValueError, match="unknown reader 'xls'"):
        datasets.load("x", {"source": "file", "path": str(tmp_path / "a.weird"), "reader": "xls"})
    _h5ad(tmp_path / "ok.h5ad", _counts())
    with pytest.raises(FileNotFoundError, match="gene_sets file"):
        datasets.load(
            "x", {"source": "file", "path": str(tmp_path / "ok.h5ad"), "gene_sets": "no.gmt"}
        )
    bad = _counts()
    bad[0, 0] = np.nan
    _h5ad(tmp_path / "nan.h5ad", bad)
    with pytest.raises(ValueError, match="dataset 'nan'.*non-finite"):
        datasets.load("nan", {"source": "file", "path": str(tmp_path / "nan.h5ad")})


def test_load_url_downloads_when_asked(tmp_path):
    source = tmp_path / "remote.h5ad"
    _h5ad(source, _counts())
    entry = {"source": "url", "url": source.as_uri(), "sha256": datasets.sha256sum(source)}
    data_dir = tmp_path / "data"
    assert local_path("remote", entry, data_dir) == data_dir / "remote" / "remote.h5ad"
    with pytest.raises(FileNotFoundError, match="run the download rule"):
        datasets.load("remote", entry, data_dir=data_dir)
    adata = datasets.load("remote", entry, data_dir=data_dir, download_missing=True)
    assert adata.n_obs == 6 and (data_dir / "remote" / "remote.h5ad").is_file()


def test_load_csv_table(tmp_path):
    frame = pd.DataFrame(_counts(), index=[f"c{i}" for i in range(6)], columns=list("wxyz"))
    frame.to_csv(tmp_path / "t.csv")
    adata = datasets.load("t", {"source": "file", "path": str(tmp_path / "t.csv")})
    np.testing.assert_array_equal(adata.X, frame.to_numpy())
    assert list(adata.var_names) == list("wxyz")


# --- readers ------------------------------------------------------------------


def _write_10x_mtx(directory, x, genes, barcodes):
    directory.mkdir(parents=True)
    scipy.io.mmwrite(directory / "matrix.mtx", sp.coo_matrix(x.T))
    pd.DataFrame({"id": [f"ENSG{i}" for i in range(len(genes))], "sym": genes}).to_csv(
        directory / "genes.tsv", sep="\t", header=False, index=False
    )
    pd.Series(barcodes).to_csv(directory / "barcodes.tsv", header=False, index=False)


def test_read_fetal_liver(tmp_path):
    genes = ["ALB", "AFP", "MT-CO1", "HBB"]
    for k, source in enumerate(["FCA1", "FCA2"]):
        x = _counts(3, 4, seed=k)
        _write_10x_mtx(tmp_path / source / "GRCh38", x, genes, [f"AAA{i}-1" for i in range(3)])
        pd.DataFrame({"Cell.Labels": ["Hepatocyte", "Kupffer Cell", "NK"]}).to_csv(
            tmp_path / source / f"{source}.csv", index=False
        )
    sdrf = tmp_path / "E-MTAB-7407.sdrf.txt"
    pd.DataFrame(
        {"Source Name": ["FCA1", "FCA2"], "Characteristics[age]": ["7 pcw", "9 pcw"]}
    ).to_csv(sdrf, sep="\t", index=False)
    adata = datasets.read_fetal_liver(tmp_path, sdrf=sdrf)
    assert adata.shape == (6, 4) and sp.issparse(adata.X)
    assert list(adata.var_names) == genes
    assert adata.obs["cell_type"].tolist() == ["Hepatocyte", "Kupffer Cell", "NK"] * 2
    assert adata.obs["Characteristics[age]"].tolist() == ["7 pcw"] * 3 + ["9 pcw"] * 3
    np.testing.assert_array_equal(adata.X[:3].toarray(), _counts(3, 4, seed=0))


@pytest.mark.filterwarnings("ignore:Variable names are not unique")
def test_read_large_brain_atlas_10x_h5_v2(tmp_path):
    x = _counts(5, 3)
    csc = sp.csc_matrix(x.T)  # Cell Ranger stores genes × cells, CSC over cells
    path = tmp_path / "1M_neurons.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("mm10")
        g["data"], g["indices"], g["indptr"] = csc.data.astype(np.int32), csc.indices, csc.indptr
        g["shape"] = np.array(csc.shape, dtype=np.int32)
        g["barcodes"] = np.array([f"BC{i}-1".encode() for i in range(5)])
        g["genes"] = np.array([b"ENSMUSG1", b"ENSMUSG2", b"ENSMUSG3"])
        g["gene_names"] = np.array([b"Xkr4", b"Rp1", b"Rp1"])
    adata = datasets.read_large_brain_atlas(path)
    assert adata.shape == (5, 3) and sp.isspmatrix_csr(adata.X)
    assert adata.var_names.is_unique
    np.testing.assert_array_equal(adata.X.toarray(), x)
    via_load = datasets.load("brain", {"source": "file", "path": str(path)})
    np.testing.assert_array_equal(via_load.X.toarray(), x)


def test_read_snare_seq(tmp_path):
    x = _counts(4, 5)
    prefix = tmp_path / "GSE126074_AdBrainCortex_SNAREseq"
    buf = io.BytesIO()
    scipy.io.mmwrite(buf, sp.coo_matrix(x.T))
    with gzip.open(f"{prefix}_chromatin.counts.mtx.gz", "wb") as fh:
        fh.write(buf.getvalue())
    with gzip.open(f"{prefix}_chromatin.barcodes.tsv.gz", "wt") as fh:
        fh.write("\n".join(f"bc{i}" for i in range(4)) + "\n")
    with gzip.open(f"{prefix}_chromatin.peaks.tsv.gz", "wt") as fh:
        fh.write("\n".join(f"chr1:{i * 100}-{i * 100 + 50}" for i in range(5)) + "\n")
    adata = datasets.read_snare_seq(prefix)
    assert adata.shape == (4, 5) and adata.var_names[0] == "chr1:0-50"
    np.testing.assert_array_equal(adata.X.toarray(), x)
    with pytest.raises(FileNotFoundError, match="cDNA.counts.mtx"):
        datasets.read_snare_seq(prefix, modality="cDNA")


def test_read_neurdiff_with_efficiency(tmp_path, caplog):
    obs = pd.DataFrame(
        {"donor_id": ["l1", "l1", "l2", "l3"], "celltype": ["FPP", "P_FPP", "FPP", "FPP"]},
        index=[f"c{i}" for i in range(4)],
    )
    _h5ad(tmp_path / "D11.h5", _counts(4, 3), obs=obs)
    pd.DataFrame({"donor_id": ["l1", "l2"], "diff_efficiency": [0.2, 0.7]}).to_csv(
        tmp_path / "eff.csv", index=False
    )
    with caplog.at_level("INFO"):
        adata = datasets.read_neurdiff(tmp_path / "D11.h5", efficiency=tmp_path / "eff.csv")
    assert adata.obs["diff_efficiency"].tolist() == [0.2, 0.2, 0.7]
    assert "1 cells of 1 lines without efficiency dropped" in caplog.text

    # the original's table marks unassessed lines; those are dropped even with a value
    pd.DataFrame(
        {
            "donor_id": ["l1", "l2", "l3"],
            "diff_efficiency": [0.2, 0.7, 0.1],
            "in_study": ["yes", "not_assessed", "yes"],
        }
    ).to_csv(tmp_path / "diff_efficiency_neur.csv", index=False)
    caplog.clear()
    with caplog.at_level("INFO"):
        adata = datasets.read_neurdiff(
            tmp_path / "D11.h5", efficiency=tmp_path / "diff_efficiency_neur.csv"
        )
    assert adata.obs["donor_id"].tolist() == ["l1", "l1", "l3"]
    assert "1 lines marked in_study == 'not_assessed' dropped" in caplog.text


def test_read_sea_ad_subsets_and_uses_counts(tmp_path):
    obs = pd.DataFrame({"cell_type": ["Vip", "Oligo", "Vip"]}, index=["a", "b", "c"])
    counts = _counts(3, 4)
    _h5ad(tmp_path / "sea.h5ad", np.log1p(counts), obs=obs, raw=sp.csr_matrix(counts))
    adata = datasets.read_sea_ad(tmp_path / "sea.h5ad", cell_type="Vip")
    np.testing.assert_array_equal(adata.X.toarray(), counts[[0, 2]])
    with pytest.raises(ValueError, match="no cells with cell_type == 'L4'"):
        datasets.read_sea_ad(tmp_path / "sea.h5ad", cell_type="L4")


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_read_mnist_idx(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([3, 1, 4, 1, 5])
    _write_idx(tmp_path / "img.gz", images)
    _write_idx(tmp_path / "lab.gz", labels)
    adata = datasets.read_mnist(tmp_path / "img.gz", tmp_path / "lab.gz")
    assert adata.shape == (5, 784)
    np.testing.assert_array_equal(adata.X[2], images[2].ravel())
    assert adata.obs["label"].tolist() == ["3", "1", "4", "1", "5"]
    _write_idx(tmp_path / "short.gz", labels[:4])
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        datasets.read_mnist(tmp_path / "img.gz", tmp_path / "short.gz")


def test_read_cifar10_keeps_airplane_and_ship(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "cifar-10-python.tar.gz"
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in ["data_batch_1", "test_batch"]:
            data = rng.integers(0, 256, size=(6, 3072), dtype=np.uint8)
            labels = [0, 1, 8, 3, 0, 8]
            batches[name] = data
            blob = pickle.dumps({b"data": data, b"labels": labels})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    adata = datasets.read_cifar10(path)
    assert adata.shape == (8, 3072)
    assert adata.obs["label"].tolist() == ["airplane", "ship", "airplane", "ship"] * 2
    np.testing.assert_array_equal(adata.X[1], batches["data_batch_1"][2])
