"""Scientific checks of siVAE's cell embedding on pbmc68k_reduced (issue #3, Fig. 2b).

The paper (Fig. 2b, fetal liver, K=2): siVAE's cell embedding is about as accurate as a
VAE's and more accurate than LDVAE's, and the interpretability term (γ = 0.05) costs
"a small" amount against siVAE (γ = 0). The hub-network checks (loadings by community,
isolated genes near the origin, hubs reconstruct best, centrality against the GCN
methods) live in ``test_science_networks.py``.

Schedule: K=2, hidden (256, 128, 64), 84 epochs (~500 steps) per stage, Adam lr 1e-3,
minibatch 128 (the original code: hidden (1024, 512, 128), 2000 steps per stage).
Balanced 5-fold k-NN accuracy (k=15) of the posterior means over the 10 ``bulk_labels``
(chance 0.1; PCA of ``X`` to 2 dimensions: 0.535). Measured at this schedule, seeds
0 / 1 / 2 / 3 (mean):

=========================================  ===============================  =====
model                                      seeds 0 / 1 / 2 / 3              mean
=========================================  ===============================  =====
siVAE (γ = 0.05), Gaussian on scaled X     0.525 / 0.462 / 0.579 / 0.471    0.509
siVAE (γ = 0)                              0.618 / 0.579 / 0.575 / 0.569    0.585
VAE                                        0.514 / 0.576 / 0.546 / 0.572    0.552
siVAE-NB (counts, θ per gene)              0.611 / 0.594 / 0.557 / 0.581    0.586
VAE-linear (LDVAE-like: NB on counts,      0.568 / 0.490 / 0.459 / 0.460    0.494
one linear decoder layer, θ per gene)
=========================================  ===============================  =====

With the NB inverse dispersion per cell instead of per gene (the default before; the
original code and LDVAE use one per gene) siVAE-NB measured 0.600 and VAE-linear 0.522
on average; every assertion below holds with either.

What holds on every seed, and is asserted: siVAE (γ = 0) ≥ VAE − 0.05 (siVAE (γ = 0)
minus VAE: +0.10 / +0.00 / +0.03 / −0.00) and ≥ VAE-linear (margin ≥ 0.05); siVAE-NB ≥
VAE-linear (margin ≥ 0.04).

What does not hold reliably, and is printed: the default siVAE (γ = 0.05) against VAE
(−0.11 to +0.03; below VAE − 0.05 on seeds 1 and 3) and against VAE-linear (−0.04 to
+0.12). The interpretability term costs 0.076 on average here, not the paper's small
amount. Both γ share stages 1 and 2 (the end of stage 1 scores as the VAE); in the joint
stage siVAE (γ = 0) gains on every seed while γ = 0.05 loses on seeds 0, 1 and 3 within
the first ~120 joint steps, as the linear term pulls ``z`` towards a linear (PCA-like)
layout. Means over seeds 0-3 of the default siVAE under other settings: lr 2e-3 (the
original fetal-liver script's) 0.541, against VAE 0.604 and VAE-linear 0.535 (θ per
cell); lr 2e-3 with ~1000 joint steps 0.563 (VAE at ~1000 steps 0.614); β = 1 throughout
stage 3, as in the original, 0.497; the original's feature-side L2 (1e-5) 0.512.

The cost shrinks with the original's step count (2000 steps per stage, lr 2e-3): there
issue #3's comparison of the default siVAE holds on the mean of seeds, asserted in
``test_model_claim_original_schedule.py`` (its docstring has 12 seeds per model).
"""

import functools

import pytest
import sivae
from sivae.metrics import knn_accuracy

HIDDEN, EPOCHS = (256, 128, 64), 84  # ~500 steps per stage on 700 cells

VARIANTS = {  # name: (class, fit the counts layer, options)
    "siVAE": (sivae.SIVAE, False, {}),
    "siVAE (gamma=0)": (sivae.SIVAE, False, {"gamma": 0.0}),
    "VAE": (sivae.VAE, False, {}),
    "siVAE-NB": (sivae.SIVAE, True, {"likelihood": "nb"}),
    "VAE-linear": (sivae.VAE, True, {"likelihood": "nb", "linear_decoder": True}),
}


@functools.cache
def pbmc():
    adata = sivae.datasets.pbmc68k_reduced()
    return adata, adata.obs["bulk_labels"].to_numpy()


@functools.cache
def accuracy(name: str) -> float:
    """k-NN accuracy of variant ``name`` at seed 0 (cached: the tests share models)."""
    cls, counts, options = VARIANTS[name]
    adata, labels = pbmc()
    data = adata.copy()
    cls.setup_anndata(data, layer="counts" if counts else None)
    model = cls(data, n_latent=2, hidden=HIDDEN, seed=0, **options)
    model.train(max_epochs=EPOCHS, progress_bar=False, device="cpu")
    return knn_accuracy(model.get_latent_representation(), labels, k=15, n_splits=5, seed=0)


@pytest.mark.slow
def test_sivae_embedding_matches_vae_and_beats_vae_linear():
    acc = {name: accuracy(name) for name in ("siVAE", "siVAE (gamma=0)", "VAE", "VAE-linear")}
    print(
        "k-NN accuracy: "
        + ", ".join(f"{k} {v:.3f}" for k, v in acc.items())
        + f"; default siVAE - VAE = {acc['siVAE'] - acc['VAE']:+.3f}, "
        f"- VAE-linear = {acc['siVAE'] - acc['VAE-linear']:+.3f} (not asserted: see docstring)"
    )
    assert acc["siVAE (gamma=0)"] >= acc["VAE"] - 0.05
    assert acc["siVAE (gamma=0)"] >= acc["VAE-linear"]
    assert acc["siVAE"] > 0.3  # far above chance (0.1) even with the interpretability term


@pytest.mark.slow
def test_sivae_nb_beats_vae_linear_on_counts():
    """The matched NB pair: same likelihood, counts and dispersion; non-linear vs linear."""
    nb, linear = accuracy("siVAE-NB"), accuracy("VAE-linear")
    print(f"k-NN accuracy: siVAE-NB {nb:.3f}, VAE-linear {linear:.3f}")
    assert nb >= linear
