"""Batched training of many siVAE models (``sivae.model.train_bins``).

The claim under test: training B bins at once gives the same models as training
each bin alone with ``SIVAE(...).train(...)`` and the same seed.
"""

import functools

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sivae
import torch
from sivae.cohort._embed import embed_bins, sivae_gene_embedding, sivae_gene_embedding_batched
from sivae.model import train_bins
from sivae.model._batched import BatchedTrainer
from sivae.model._compile import draw_noise, noise_shapes
from sivae.model._module import PresampledNoise, SIVAEModule

ARCH = {"hidden": (16, 8)}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one thread avoids oversubscribing the 2 shared CI cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# 60 cells / 25 per batch and 20 genes / 8 per batch: ragged last minibatches on purpose
SCHEDULE = {"max_epochs": 3, "feature_epochs": 3, "batch_size": 25, "feature_batch_size": 8}


def _bins(n_bins=3, n_cells=60, n_genes=20, seed=0):
    """Gaussian bins with a different correlation structure and scale each."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n_bins):
        mixing = rng.normal(size=(3, n_genes))
        x = rng.normal(size=(n_cells, 3)) @ mixing + 0.5 * rng.normal(size=(n_cells, n_genes))
        out.append((x * (1 + b) + b).astype(np.float32))
    return out


def _one_at_a_time(x, seed, n_latent=3, layer=None, adata=None, **options):
    if adata is None:
        adata = ad.AnnData(x.copy())
    model = sivae.SIVAE(adata, n_latent=n_latent, seed=seed, **ARCH, **options)
    model.train(**SCHEDULE, progress_bar=False)
    return model


def _assert_same(result, model, atol=1e-4):
    np.testing.assert_allclose(
        result.loadings.to_numpy(), model.get_loadings().to_numpy(), atol=atol
    )
    np.testing.assert_allclose(result.latent, model.get_latent_representation(), atol=atol)
    np.testing.assert_allclose(
        result.degree_centrality.to_numpy(), model.get_degree_centrality().to_numpy(), atol=atol
    )
    pd.testing.assert_index_equal(result.loadings.index, model.get_loadings().index)
    cols = ["stage", "epoch", "step", "beta", "lr"]
    pd.testing.assert_frame_equal(result.history[cols], model.history[cols])
    terms = ["total", "reconstruction", "kl_cell", "kl_feature", "interpretability", "l2"]
    # NaN where a stage does not compute a term, in both histories
    np.testing.assert_allclose(
        result.history[terms].to_numpy(), model.history[terms].to_numpy(), rtol=1e-4
    )


def test_train_bins_equals_one_at_a_time():
    # stage-2 gradient norms of these bins are ~90, ~2e4 and ~4e3 (checked), so the
    # per-model clipping at 5 acts in every stage-2 step, differently per bin
    bins, seeds = _bins(), [3, 11, 7]
    results = train_bins(bins, n_latent=3, seeds=seeds, **ARCH, **SCHEDULE)
    assert len(results) == 3
    for x, seed, result in zip(bins, seeds, results, strict=True):
        assert result.loadings.shape == (20, 3) and result.latent.shape == (60, 3)
        _assert_same(result, _one_at_a_time(x, seed))
    # the bins really are different models: a mix-up between them would show
    assert not np.allclose(results[0].loadings, results[1].loadings, atol=1e-2)


def test_train_bins_nb_counts_sparse_equals_one_at_a_time():
    rng = np.random.default_rng(5)
    bins = []
    for b in range(2):
        rate = rng.gamma(2.0, 1.0 + b, size=(1, 15)) * rng.uniform(0.5, 2.0, size=(50, 1))
        counts = sp.csr_matrix(rng.poisson(rate).astype(np.float32))
        adata = ad.AnnData(X=np.zeros((50, 15), np.float32), layers={"counts": counts})
        sivae.SIVAE.setup_anndata(adata, layer="counts")
        bins.append(adata)
    options = {"likelihood": "nb", "variance": "gene", "gamma": 0.1}
    results = train_bins(bins, n_latent=2, seed=4, **ARCH, **SCHEDULE, **options)
    for adata, result in zip(bins, results, strict=True):
        _assert_same(result, _one_at_a_time(None, 4, n_latent=2, adata=adata.copy(), **options))


def test_clip_per_model_matches_clip_grad_norm():
    """Stage-2 clipping uses each model's own gradient norm, as clip_grad_norm_ per model."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (3,), ()]
    # per-model gradient scales: model 0 above the threshold 5, model 1 below, model 2 far above
    scales = torch.tensor([3.0, 0.01, 50.0])
    grads = [
        torch.randn((3, *s), generator=gen) * scales.reshape(-1, *[1] * len(s)) for s in shapes
    ]
    refs = []
    for b in range(3):
        params = [torch.zeros(s, requires_grad=True) for s in shapes]
        for p, g in zip(params, grads, strict=True):
            p.grad = g[b].clone()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        refs.append([p.grad for p in params])
    stacked = [torch.zeros((3, *s), requires_grad=True) for s in shapes]
    for p, g in zip(stacked, grads, strict=True):
        p.grad = g.clone()
    fake = BatchedTrainer.__new__(BatchedTrainer)
    fake.n_models = 3
    fake.optimizer = torch.optim.Adam(stacked)
    BatchedTrainer._clip_per_model(fake, 5.0)
    for b in range(3):
        for p, ref in zip(stacked, refs[b], strict=True):
            torch.testing.assert_close(p.grad[b], ref)
    norms = [float(torch.sqrt(sum(r.pow(2).sum() for r in refs[b]))) for b in range(3)]
    assert norms[0] == pytest.approx(5.0, rel=1e-4) and norms[2] == pytest.approx(5.0, rel=1e-4)
    assert norms[1] < 1.0  # left alone


def test_presampled_noise_reproduces_generator_draws():
    torch.manual_seed(0)
    module = SIVAEModule(12, 3, n_feature_input=9, hidden=(16, 8))
    module.feature_input.copy_(torch.randn(12, 9))
    x, s = torch.randn(5, 12), torch.zeros(5, 0)
    eager = module.cell_loss(
        x, x, s, None, 0.5, joint=True, generator=torch.Generator().manual_seed(9)
    )
    eps = draw_noise(
        torch.Generator().manual_seed(9), noise_shapes(module, 3, 5), "cpu", torch.float32
    )
    pre = module.cell_loss(x, x, s, None, 0.5, joint=True, generator=PresampledNoise(eps))
    for key, value in eager.items():
        torch.testing.assert_close(pre[key], value, rtol=0, atol=0)


def test_embed_bins_multi_embedder_matches_per_bin_embedder():
    x = np.concatenate(_bins(n_bins=2, n_cells=40, n_genes=12, seed=2))
    obs = pd.DataFrame({"line": np.repeat(["a", "b"], 40)}, index=[f"c{i}" for i in range(80)])
    adata = ad.AnnData(x, obs=obs)
    bins = {"a": [np.arange(0, 20), np.arange(20, 40)], "b": [np.arange(40, 60)]}
    kwargs = {"n_latent": 2, "seed": 1, "train_kwargs": {**SCHEDULE, "progress_bar": False}}
    kwargs.update(ARCH)
    emb_a, cent_a, groups_a = embed_bins(
        adata, bins, multi_embedder=functools.partial(sivae_gene_embedding_batched, **kwargs)
    )
    emb_b, cent_b, groups_b = embed_bins(
        adata, bins, embedder=functools.partial(sivae_gene_embedding, **kwargs)
    )
    assert list(emb_a) == ["a_bin0", "a_bin1", "b_bin0"] == list(emb_b)
    pd.testing.assert_series_equal(groups_a, groups_b)
    for name in emb_a:
        pd.testing.assert_frame_equal(emb_a[name], emb_b[name], check_exact=False, atol=1e-4)
        pd.testing.assert_series_equal(cent_a[name], cent_b[name], check_exact=False, atol=1e-4)


@pytest.mark.parametrize(
    ("make_bins", "options", "message"),
    [
        (lambda: [np.zeros((10, 5)), np.zeros((12, 5))], {}, "same numbers of cells and genes"),
        (lambda: _bins(2), {"early_stopping": True}, "does not support"),
        (lambda: _bins(2), {"checkpoint_dir": "x"}, "does not support"),
        (lambda: _bins(2), {"dropout": 0.1}, "unknown options"),
        (lambda: _bins(2), {"seeds": [1]}, "1 seeds for 2 bins"),
        (lambda: [np.zeros(5)], {}, "2-D"),
        (lambda: ["not data"], {}, "expected AnnData"),
        (lambda: [], {}, "no bins"),
    ],
)
def test_train_bins_rejects_unsupported_input(make_bins, options, message):
    with pytest.raises(ValueError, match=message):
        train_bins(make_bins(), **options)


def test_train_bins_rejects_covariates():
    obs = pd.DataFrame({"pool": ["p0", "p1"] * 30}, index=[f"c{i}" for i in range(60)])
    adata = ad.AnnData(_bins(1)[0], obs=obs)
    sivae.SIVAE.setup_anndata(adata, batch_key="pool")
    with pytest.raises(ValueError, match="bin 0 was set up with covariates"):
        train_bins([adata])
