"""Input validation: one clear error per kind of bad input."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sivae._validation import atomic_write_h5ad, check_adata, dense_matrix, read_h5ad_checked


def _adata(x=None, obs_names=None, var_names=None):
    x = np.arange(12, dtype=np.float32).reshape(4, 3) if x is None else x
    return ad.AnnData(
        X=x,
        obs=pd.DataFrame(index=pd.Index(obs_names or [f"c{i}" for i in range(x.shape[0])])),
        var=pd.DataFrame(index=pd.Index(var_names or [f"g{i}" for i in range(x.shape[1])])),
    )


def test_valid_data_passes():
    adata = _adata()
    assert check_adata(adata, dataset="ok", counts=True) is adata


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(bad):
    x = np.ones((4, 3), dtype=np.float32)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"dataset 'toy': 1 non-finite"):
        check_adata(_adata(x), dataset="toy")
    with pytest.raises(ValueError, match="non-finite"):
        check_adata(_adata(sp.csr_matrix(x)), dataset="toy")


def test_negative_counts():
    x = np.ones((4, 3), dtype=np.float32)
    x[0, 0] = -2
    check_adata(_adata(x), dataset="toy")  # fine when counts are not required
    with pytest.raises(ValueError, match="counts were expected but 1 values are negative"):
        check_adata(_adata(x), dataset="toy", counts=True)


@pytest.mark.filterwarnings("ignore:.*names are not unique")
def test_duplicated_names():
    with pytest.raises(ValueError, match="duplicated gene names"):
        check_adata(_adata(var_names=["a", "b", "a"]), dataset="toy")
    with pytest.raises(ValueError, match="duplicated cell names"):
        check_adata(_adata(obs_names=["x", "x", "y", "z"]), dataset="toy")


def test_empty_data():
    with pytest.raises(ValueError, match=r"no data left \(0 cells"):
        check_adata(_adata()[:0].copy(), dataset="toy")


def test_missing_key_names_dataset_and_key():
    adata = _adata()
    adata.obs["cell_type"] = "a"
    check_adata(adata, dataset="toy", keys=["cell_type", None])
    with pytest.raises(ValueError, match=r"dataset 'toy'.*\['donor'\].*absent"):
        check_adata(adata, dataset="toy", keys=["cell_type", "donor"])


def test_missing_layer():
    with pytest.raises(ValueError, match="layer 'counts' not found"):
        check_adata(_adata(), dataset="toy", layer="counts")


def test_dense_matrix_reads_x_or_a_layer():
    adata = _adata()
    adata.layers["counts"] = sp.csr_matrix(adata.X * 2)
    np.testing.assert_array_equal(dense_matrix(adata), adata.X)
    counts = dense_matrix(adata, layer="counts", dataset="toy")
    assert isinstance(counts, np.ndarray)
    np.testing.assert_array_equal(counts, adata.X * 2)
    with pytest.raises(ValueError, match=r"dataset 'toy': layer 'raw' not found.*\['counts'\]"):
        dense_matrix(adata, layer="raw", dataset="toy")


def test_read_h5ad_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5ad"):
        read_h5ad_checked(tmp_path / "missing.h5ad", dataset="toy")
    text = tmp_path / "text.h5ad"
    text.write_text("cell,gene\n")
    with pytest.raises(ValueError, match="not an .h5ad"):
        read_h5ad_checked(text, dataset="toy")
    good = tmp_path / "good.h5ad"
    _adata().write_h5ad(good)
    truncated = tmp_path / "truncated.h5ad"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ValueError, match="could not read"):
        read_h5ad_checked(truncated, dataset="toy")
    np.testing.assert_array_equal(read_h5ad_checked(good).X, _adata().X)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out" / "data.h5ad"
    atomic_write_h5ad(_adata(), target)
    assert target.is_file()

    def broken_write(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ad.AnnData, "write_h5ad", broken_write)
    other = tmp_path / "out" / "other.h5ad"
    with pytest.raises(OSError, match="disk full"):
        atomic_write_h5ad(_adata(), other)
    assert not other.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["data.h5ad"]
