"""Every model variant trains a few steps on tiny data without NaN, for every input kind."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
import sivae
import torch

TINY = {"hidden": (16, 8), "n_latent": 2, "seed": 0}
SCHEDULE = {"max_epochs": 2, "feature_epochs": 2, "batch_size": 32, "progress_bar": False}


def tiny_counts(n_cells=80, n_genes=20, seed=0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    rates = rng.gamma(2.0, 1.0, size=(1, n_genes)) * rng.gamma(5.0, 0.2, size=(n_cells, 1))
    counts = rng.poisson(rates * 3).astype(np.float32)
    adata = ad.AnnData(np.log1p(counts))
    adata.layers["counts"] = counts
    adata.var_names = [f"g{i}" for i in range(n_genes)]
    adata.obs["batch"] = np.where(np.arange(n_cells) % 3 == 0, "a", "b")
    adata.obs["label"] = np.where(np.arange(n_cells) % 4 == 0, "x", "y")
    adata.obs["depth"] = counts.sum(1)
    return adata


def _check_outputs(model, adata, has_loadings=True):
    z = model.get_latent_representation()
    assert z.shape == (adata.n_obs, 2) and np.isfinite(z).all()
    err = model.get_reconstruction_error()
    assert err.shape == (adata.n_vars,) and np.isfinite(err).all() and (err >= 0).all()
    assert np.isfinite(model.history[["total", "reconstruction"]].to_numpy()).all()
    if has_loadings:
        v = model.get_loadings()
        assert v.shape == (adata.n_vars, 2) and np.isfinite(v.to_numpy()).all()
        assert list(v.index) == list(adata.var_names)
    x = model.sample(7, seed=1)
    assert x.shape == (7, adata.n_vars) and np.isfinite(x).all()
    xhat = model.cell_decoder(torch.zeros(3, 2))
    assert xhat.shape == (3, adata.n_vars) and torch.isfinite(xhat).all()
    assert model.cell_encoder_mean(torch.zeros(3, adata.n_vars)).shape == (3, 2)


SIVAE_VARIANTS = {
    "default": ({}, {}),
    "gamma0": ({"gamma": 0.0}, {}),
    "linear": ({"linear": True}, {}),
    "nb": ({"likelihood": "nb"}, {"layer": "counts"}),
    "batch": ({}, {"batch_key": "batch"}),
    "batch_continuous_linear": (
        {"linear": True},
        {"batch_key": "batch", "continuous_covariate_keys": ["depth"]},
    ),
    "nb_batch": ({"likelihood": "nb"}, {"layer": "counts", "batch_key": "batch"}),
    "variance_gene": ({"variance": "gene"}, {}),
    "variance_cell_gene": ({"variance": "cell_gene"}, {}),
    "subsample_stratified": (
        {"feature_input": "subsample", "n_feature_input": 30},
        {"labels_key": "label"},
    ),
    "pca": ({"feature_input": "pca", "n_feature_input": 10}, {}),
    "full": ({"feature_input": "full"}, {}),
}


@pytest.mark.parametrize("name", sorted(SIVAE_VARIANTS))
def test_sivae_variant_trains(name):
    options, setup = SIVAE_VARIANTS[name]
    adata = tiny_counts()
    sivae.SIVAE.setup_anndata(adata, **setup)
    model = sivae.SIVAE(adata, **TINY, **options).train(**SCHEDULE)
    assert set(model.history["stage"]) == {1, 2, 3}
    _check_outputs(model, adata)
    if options.get("feature_input") == "pca":
        assert model.module.feature_input.shape == (adata.n_vars, 10)


@pytest.mark.parametrize(
    "options,setup",
    [
        ({}, {}),
        ({"linear_decoder": True, "likelihood": "nb"}, {"layer": "counts"}),
        ({"likelihood": "nb"}, {"layer": "counts", "batch_key": "batch"}),
        ({"linear_decoder": True}, {"batch_key": "batch"}),
    ],
)
def test_vae_variant_trains(options, setup):
    adata = tiny_counts()
    sivae.VAE.setup_anndata(adata, **setup)
    model = sivae.VAE(adata, **TINY, **options).train(**SCHEDULE)
    assert set(model.history["stage"]) == {1}
    _check_outputs(model, adata, has_loadings=options.get("linear_decoder", False))
    if not options.get("linear_decoder"):
        with pytest.raises(ValueError, match="no gene loadings"):
            model.get_loadings()
    else:
        np.testing.assert_allclose(
            model.get_loadings().to_numpy(), model.module.gene_weight.detach().numpy()
        )


def _latent_from(adata, **setup):
    sivae.SIVAE.setup_anndata(adata, **setup)
    model = sivae.SIVAE(adata, **TINY, feature_input="pca", n_feature_input=8)
    model.train(**SCHEDULE)
    return model.get_latent_representation(), model.get_loadings().to_numpy()


def test_csr_input_gives_same_result_as_dense():
    dense = tiny_counts()
    sparse = dense.copy()
    sparse.X = sp.csr_matrix(sparse.X)
    z_dense, v_dense = _latent_from(dense)
    z_sparse, v_sparse = _latent_from(sparse)
    np.testing.assert_allclose(z_sparse, z_dense, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v_sparse, v_dense, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_backed_h5ad_input_matches_in_memory(tmp_path, sparse):
    adata = tiny_counts()
    if sparse:
        adata.X = sp.csr_matrix(adata.X)
    path = tmp_path / "tiny.h5ad"
    adata.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    z_backed, v_backed = _latent_from(backed)
    z_mem, v_mem = _latent_from(ad.read_h5ad(path))
    np.testing.assert_allclose(z_backed, z_mem, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v_backed, v_mem, rtol=1e-4, atol=1e-5)
    backed.file.close()
