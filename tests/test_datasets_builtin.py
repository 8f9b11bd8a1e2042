"""Embedded real datasets: scanpy's pbmc68k_reduced and scikit-learn's digits."""

import numpy as np
from sivae.datasets import digits, pbmc68k_reduced


def test_pbmc68k_reduced_layers_are_consistent():
    adata = pbmc68k_reduced()
    assert adata.shape == (700, 765) and adata.raw is None
    assert adata.obs["bulk_labels"].nunique() == 10
    counts = adata.layers["counts"].astype(np.float64)
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0
    # Re-normalising the recovered counts by each cell's library size gives back the
    # shipped log-normalised values (to float32 and rounding precision).
    lib = adata.obs["n_counts"].to_numpy()[:, None]
    np.testing.assert_allclose(np.log1p(counts / lib * 1e4), adata.layers["lognorm"], atol=0.06)
    assert adata.X.dtype == np.float32 and np.isfinite(adata.X).all()


def test_digits():
    adata = digits()
    assert adata.shape == (1797, 64)
    assert adata.X.dtype == np.float32 and adata.X.max() == 16
    assert list(adata.obs["label"].cat.categories) == [str(d) for d in range(10)]
    assert adata.obs["label"].value_counts().min() >= 170
