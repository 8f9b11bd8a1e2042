"""Issue #3's k-NN claim for the default siVAE, at the original code's schedule.

Claim (paper Fig. 2b, small stand-in): on pbmc68k_reduced with K=2, 5-fold balanced k-NN
accuracy of the default siVAE (γ = 0.05) ≥ VAE − 0.05 and ≥ VAE-linear (LDVAE-like).
``test_model_science.py`` trains ~500 steps per stage, where the default siVAE does not
reach it; the original fetal-liver script trains 2000 steps per stage at lr 2e-3, and
there it holds. Asserted on the mean over seeds 0 and 1 (the paper reports one model
per method; a mean of two is the least that does not hang on one draw).

Measured with ``benchmarks/pbmc_knn_claim.py`` (this schedule; results.md):

=============  ============================================  =====
model          CPU seeds 0-3 / H200 fp32 seeds 0-7           means
=============  ============================================  =====
siVAE          .579 .569 .570 .574 / .571 .624 .541 .571     .573 / .582
               .582 .594 .591 .578
VAE            .619 .574 .603 .637 / .608 .625 .571 .623     .608 / .608
               .608 .632 .585 .615
VAE-linear     .437 .549 .532 .552 / .437 .574 .540 .563     .518 / .524
               .546 .522 .550 .459
=============  ============================================  =====

Per seed, siVAE ≥ VAE − 0.05 fails once on each device (CPU seed 3 by 0.013, GPU seed 3
by 0.002) and siVAE ≥ VAE-linear holds on all 12 runs; on the means both hold with
margins ≥ 0.015. About 3 minutes per seed on one CPU core.
"""

import functools

import numpy as np
import pytest
import sivae
from sivae.metrics import knn_accuracy

HIDDEN, LR, BATCH, STEPS = (256, 128, 64), 2e-3, 128, 2000  # the original's schedule
SEEDS = (0, 1)
VARIANTS = {  # name: (class, fit the counts layer, options)
    "siVAE": (sivae.SIVAE, False, {}),
    "VAE": (sivae.VAE, False, {}),
    "VAE-linear": (sivae.VAE, True, {"likelihood": "nb", "linear_decoder": True}),
}


@functools.cache
def pbmc():
    adata = sivae.datasets.pbmc68k_reduced()
    return adata, adata.obs["bulk_labels"].to_numpy()


def accuracy(name: str, seed: int) -> float:
    cls, counts, options = VARIANTS[name]
    adata, labels = pbmc()
    data = adata.copy()
    cls.setup_anndata(data, layer="counts" if counts else None)
    model = cls(data, n_latent=2, hidden=HIDDEN, seed=seed, **options)
    epochs = round(STEPS / -(-data.n_obs // BATCH))  # steps per stage -> epochs (333)
    model.train(max_epochs=epochs, batch_size=BATCH, lr=LR, progress_bar=False, device="cpu")
    return knn_accuracy(model.get_latent_representation(), labels, k=15, n_splits=5, seed=0)


@pytest.mark.slow
def test_default_sivae_within_vae_and_above_vae_linear_at_original_schedule():
    acc = {name: np.array([accuracy(name, s) for s in SEEDS]) for name in VARIANTS}
    print(
        "k-NN accuracy, seeds "
        + "/".join(map(str, SEEDS))
        + ": "
        + "; ".join(f"{k} {' / '.join(f'{a:.3f}' for a in v)}" for k, v in acc.items())
    )
    mean = {k: float(v.mean()) for k, v in acc.items()}
    assert mean["siVAE"] >= mean["VAE"] - 0.05
    assert mean["siVAE"] >= mean["VAE-linear"]
