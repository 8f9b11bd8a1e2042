"""The device-resident matrix (``cells_on_device``) and the sparse gene statistics.

On the CPU ``cells_on_device=True`` runs the same gathers a GPU run does, so the
equality with the host path is checked here on dense, CSR, backed and count data.
"""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
import sivae
import torch
from sivae.model._data import CellMatrix, DeviceMatrix, gene_statistics, place_on_device

TINY = {"hidden": (16, 8), "n_latent": 2, "seed": 0}
SCHEDULE = {"max_epochs": 2, "feature_epochs": 2, "batch_size": 32, "progress_bar": False}


def sparse_counts(n_cells=90, n_genes=25, density=0.3, seed=0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    counts = sp.random(n_cells, n_genes, density=density, format="csr", random_state=rng)
    counts.data = rng.poisson(4.0, counts.nnz).astype(np.float32) + 1
    counts.data[counts.indptr[3] : counts.indptr[4]] = 0  # an empty cell row
    counts.eliminate_zeros()
    adata = ad.AnnData(counts.astype(np.float32))
    adata.var_names = [f"g{i}" for i in range(n_genes)]
    return adata


@pytest.mark.parametrize("kind", ["dense", "csr", "csr_unsorted", "backed_csr", "backed_dense"])
def test_device_rows_equal_host_rows(tmp_path, kind):
    adata = sparse_counts()
    matrix = adata.X
    if kind == "dense":
        matrix = matrix.toarray()
    elif kind == "csr_unsorted":
        matrix = matrix.copy()
        for r in range(matrix.shape[0]):  # reverse each row's column order
            lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
            matrix.indices[lo:hi] = matrix.indices[lo:hi][::-1].copy()
            matrix.data[lo:hi] = matrix.data[lo:hi][::-1].copy()
        matrix.has_sorted_indices = False
    elif kind.startswith("backed"):
        if kind == "backed_dense":
            adata.X = adata.X.toarray()
        adata.write_h5ad(tmp_path / "x.h5ad")
        matrix = ad.read_h5ad(tmp_path / "x.h5ad", backed="r").X
    cells = CellMatrix(matrix)
    on_device = DeviceMatrix(cells, torch.device("cpu"))
    rng = np.random.default_rng(1)
    for idx in (rng.permutation(90)[:32], np.array([3]), np.array([5, 3, 89, 0])):
        host = cells.rows(idx)
        host = host.toarray() if sp.issparse(host) else np.asarray(host)
        got = on_device.rows(torch.as_tensor(idx)).numpy()
        np.testing.assert_array_equal(got, host.astype(np.float32))
    assert DeviceMatrix.nbytes(cells) > 0


@pytest.mark.parametrize("nb", [False, True])
def test_training_on_device_matrix_equals_host_path(nb):
    results = []
    for on_device in (False, True):
        adata = sparse_counts()
        adata.layers["counts"] = adata.X.copy()
        sivae.SIVAE.setup_anndata(adata, layer="counts" if nb else None)
        model = sivae.SIVAE(adata, **TINY, likelihood="nb" if nb else "gaussian")
        model.train(**SCHEDULE, device="cpu", cells_on_device=on_device)
        results.append((model.get_latent_representation(), model.get_loadings().to_numpy()))
        assert model._trainer.on_device is None  # the device copy is freed after training
    (z_host, v_host), (z_dev, v_dev) = results
    np.testing.assert_array_equal(z_dev, z_host)
    np.testing.assert_array_equal(v_dev, v_host)


def test_auto_keeps_cpu_training_on_the_host():
    cells = CellMatrix(np.zeros((4, 3), dtype=np.float32))
    assert place_on_device(cells, torch.device("cpu"), "auto") is False
    assert place_on_device(cells, torch.device("cpu"), True) is True


@pytest.mark.parametrize("log1p", [False, True])
def test_sparse_gene_statistics_match_dense(log1p):
    adata = sparse_counts(n_cells=300, n_genes=40, density=0.2, seed=3)
    dense_x = adata.X.toarray().astype(np.float64)
    sparse = gene_statistics(CellMatrix(adata.X), log1p, True)
    dense = gene_statistics(CellMatrix(dense_x), log1p, True)
    ref = np.log1p(dense_x) if log1p else dense_x  # float64 reference
    np.testing.assert_allclose(sparse.mean, ref.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sparse.std, ref.std(axis=0), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse.std, dense.std, rtol=1e-8, atol=1e-10)


def test_sparse_gene_statistics_reject_nan_and_negative_counts():
    adata = sparse_counts()
    bad = adata.X.copy()
    row = 7
    bad.data[bad.indptr[row]] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf values \(first in cell row 7\)"):
        gene_statistics(CellMatrix(bad), False, True)
    negative = adata.X.copy()
    negative.data[0] = -1.0
    with pytest.raises(ValueError, match="negative values"):
        gene_statistics(CellMatrix(negative), True, True)
