"""siVAE: interpretable deep generative models for single-cell transcriptomes.

A PyTorch implementation of Choi, Li & Quon (Genome Biology 2023) with an
scvi-tools style API::

    import sivae
    adata = sivae.datasets.hub_network(seed=0)
    sivae.SIVAE.setup_anndata(adata)
    model = sivae.SIVAE(adata, n_latent=2, gamma=0.05, seed=0)
    model.train()
    z = model.get_latent_representation()
    v = model.get_loadings()

Submodules are imported on first use so that ``import sivae`` (and the
``sivae`` command) stays fast.
"""

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = (
    "attribution",
    "cohort",
    "datasets",
    "metrics",
    "model",
    "networks",
    "plotting",
    "pp",
)
_MODEL_CLASSES = ("SIVAE", "VAE")

__all__ = [*_SUBMODULES, *_MODEL_CLASSES, "__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    if name in _MODEL_CLASSES:
        return getattr(import_module(".model", __name__), name)
    raise AttributeError(f"module 'sivae' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
