"""Scientific checks of siVAE on the simulated hub network and on pbmc68k_reduced.

Schedules are shortened for CI (2 CPU cores) but the claims are the paper's:
loadings cluster by gene community, isolated genes sit near the origin, hubs
reconstruct best (siVAE degree centrality), and the cell embedding separates
cell types about as well as a VAE's and better than an LDVAE-like one's.
"""

import numpy as np
import pytest
import scipy.stats as ss
import sivae
from sivae.metrics import knn_accuracy, silhouette

HUB_HIDDEN = (128, 64, 32)


@pytest.fixture(scope="module")
def hub_data():
    return sivae.datasets.hub_network(n_cells=2000, seed=0)


@pytest.mark.slow
def test_hub_network_loadings_and_centrality(hub_data):
    """One K=8 model (isolated genes near the origin are clear at K>=8, DESIGN §8)."""
    adata = hub_data.copy()
    model = sivae.SIVAE(adata, n_latent=8, hidden=HUB_HIDDEN, seed=0)
    model.train(max_epochs=30, progress_bar=False)  # 480 steps per stage
    loadings = model.get_loadings().to_numpy()
    community = adata.var["community"].to_numpy()
    in_community = community >= 0
    assert silhouette(loadings[in_community], community[in_community]) >= 0.3

    norms = np.linalg.norm(loadings, axis=1)
    assert np.median(norms[~in_community]) < 0.6 * np.median(norms[in_community])

    error = model.get_reconstruction_error().to_numpy()
    is_hub = adata.var["is_hub"].to_numpy()
    hubs_best = 0
    for c in np.unique(community[in_community]):
        members = np.flatnonzero(community == c)
        ranks = ss.rankdata(error[members])
        hubs_best += ranks[is_hub[members]][0] <= 3
    assert hubs_best >= 4

    degree = np.asarray(adata.varp["adjacency"]).sum(axis=1)
    rho = ss.spearmanr(model.get_degree_centrality().to_numpy(), degree).statistic
    assert rho >= 0.6  # the tie ceiling with degrees 49/1/0 is 0.671 (DESIGN §8)


@pytest.mark.slow
def test_pbmc_embedding_accuracy_against_vae_baselines():
    """Balanced 5-fold k-NN accuracy of 2-D embeddings (10 cell types, chance 0.1).

    Matched pairs as in the paper: siVAE vs VAE on the scaled ``X`` (Gaussian),
    and siVAE (NB) vs the LDVAE-like VAE (linear) on counts (both NB). Measured
    at this schedule (seed 0): siVAE 0.525, VAE 0.514, siVAE-NB 0.599, VAE-linear 0.549.
    """
    adata = sivae.datasets.pbmc68k_reduced()
    labels = adata.obs["bulk_labels"].to_numpy()
    hidden, epochs = (256, 128, 64), 84  # ~500 steps per stage

    def accuracy(cls, counts=False, **options):
        data = adata.copy()
        cls.setup_anndata(data, layer="counts" if counts else None)
        model = cls(data, n_latent=2, hidden=hidden, seed=0, **options)
        model.train(max_epochs=epochs, progress_bar=False)
        return knn_accuracy(model.get_latent_representation(), labels, k=15, n_splits=5, seed=0)

    acc_sivae = accuracy(sivae.SIVAE)
    acc_vae = accuracy(sivae.VAE)
    assert acc_sivae >= acc_vae - 0.05
    assert acc_sivae > 0.3

    acc_sivae_nb = accuracy(sivae.SIVAE, counts=True, likelihood="nb")
    acc_linear = accuracy(sivae.VAE, counts=True, likelihood="nb", linear_decoder=True)
    assert acc_sivae_nb >= acc_linear
