"""The compiled training path (``train(..., compile=True)``) gives the eager path's results.

Not a speed test: on CPU the default backend is ``aot_eager`` (see
``sivae.model._compile``), which checks graph capture and AOT autograd, not kernels.
"""

import anndata as ad
import numpy as np
import pytest
import sivae
import torch
from sivae.model import train_bins
from sivae.model._compile import resolve_backend
from torch._dynamo.utils import counters

ARCH = {"hidden": (16, 8)}
# batch sizes divide 60 cells and 20 genes: one graph per stage keeps compile time low
SCHEDULE = {"max_epochs": 2, "feature_epochs": 2, "batch_size": 20, "feature_batch_size": 10}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one thread avoids oversubscribing the 2 shared CI cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(seed=0, n_cells=60, n_genes=20):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_cells, 3)) @ rng.normal(size=(3, n_genes))
    return (x + 0.5 * rng.normal(size=(n_cells, n_genes))).astype(np.float32)


def test_compiled_training_matches_eager():
    x = _data()
    models = {}
    for compile in (False, True):
        model = sivae.SIVAE(ad.AnnData(x.copy()), n_latent=3, seed=2, **ARCH)
        before = counters["stats"]["unique_graphs"]
        model.train(**SCHEDULE, progress_bar=False, compile=compile)
        if compile:
            assert model._trainer.compiled is not None
            assert model._trainer.compiled.backend == "aot_eager"  # CPU default
            assert counters["stats"]["unique_graphs"] - before >= 3  # stages 1, 2, 3
        else:
            assert model._trainer.compiled is None
        models[compile] = model
    eager, compiled = models[False], models[True]
    np.testing.assert_allclose(compiled.get_loadings(), eager.get_loadings(), atol=1e-5)
    np.testing.assert_allclose(
        compiled.get_latent_representation(), eager.get_latent_representation(), atol=1e-5
    )
    np.testing.assert_allclose(
        compiled.get_degree_centrality(), eager.get_degree_centrality(), atol=1e-5
    )
    np.testing.assert_allclose(compiled.history["total"], eager.history["total"], rtol=1e-5)
    # and training moved the model: equal results are not two untouched initialisations
    untrained = sivae.SIVAE(ad.AnnData(x.copy()), n_latent=3, seed=2, **ARCH)
    assert np.abs(untrained.get_loadings() - eager.get_loadings()).to_numpy().max() > 1e-2


def test_compiled_batched_training_matches_eager_batched():
    bins = [_data(seed) for seed in (1, 2)]
    eager = train_bins(bins, n_latent=2, seeds=[5, 6], **ARCH, **SCHEDULE)
    compiled = train_bins(bins, n_latent=2, seeds=[5, 6], compile=True, **ARCH, **SCHEDULE)
    for a, b in zip(eager, compiled, strict=True):
        np.testing.assert_allclose(b.loadings, a.loadings, atol=1e-5)
        np.testing.assert_allclose(b.latent, a.latent, atol=1e-5)
        np.testing.assert_allclose(b.degree_centrality, a.degree_centrality, atol=1e-5)


def test_resolve_backend():
    assert resolve_backend(False, torch.device("cpu")) is None
    assert resolve_backend(True, torch.device("cpu")) == "aot_eager"
    assert resolve_backend(True, torch.device("cuda")) == "inductor"
    assert resolve_backend("eager", torch.device("cpu")) == "eager"
    with pytest.raises(ValueError, match="not a torch.compile backend"):
        resolve_backend("no-such-backend", torch.device("cpu"))
    with pytest.raises(ValueError, match="compile must be"):
        resolve_backend(3, torch.device("cpu"))
