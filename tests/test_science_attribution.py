"""siVAE loadings against post-hoc attributions of its own decoder (issue #4, Fig. 3a).

The paper reports a median Spearman (over embedding dimensions) of 0.98 between siVAE
loadings and DeepLIFT loadings of the cell decoder (z -> x̂, with the feature side fixed at
its posterior-mean loadings), 0.73 across methods. Attribution loadings follow the paper's
rule (DESIGN §4): per dimension, the first PC of the cells × genes attribution matrix,
``components_ * sqrt(explained_variance_)``, oriented like the mean decoder gradient.

Why one dimension sometimes disagrees
-------------------------------------
siVAE's loadings ``v`` are tied to the cell embedding only by the interpretability term
``γ·Σ_g (x_cg − z_c·v_g − b_g)²`` (γ = 0.05): at its optimum ``v`` is the least-squares
regression ``β`` of the standardised expression on ``z``. Stage 2 (the feature VAE) lays
the genes out with no such term, so stage 3 starts from an arbitrary orientation of the
feature axes and a weak force to undo it. Measured on the default model below: right
after stage 2 (6 joint steps) Spearman(v, β) per dimension is 0.29 0.42 (seed 0) and
0.06 0.39 (seed 2); after 240 joint steps 0.96 0.90 and 0.29 0.93; seed 2's first
dimension is still at 0.46 after ~1000 and 0.50 after ~2000 joint steps, so a longer
schedule does not fix it. Where it has converged, ``v`` agrees with DeepLIFT; where it has
not, it agrees with nothing (Spearman per dimension, pbmc68k_reduced standardised, K=2,
50 cells for the attributions):

=====================================  ==============  ==============  ==============
model, seed                            v vs DeepLIFT   v vs β          DeepLIFT vs β
=====================================  ==============  ==============  ==============
hidden (128, 64), 240 steps/stage, 0   0.98  0.84      0.96  0.90      0.95  0.89
same, seed 1                           0.98  0.99      0.95  0.96      0.95  0.96
same, seed 2                           0.23  0.90      0.29  0.93      0.91  0.91
hidden (256, 128, 64), ~500 steps, 0   0.52 -0.24      0.57  0.64      0.83  0.13
same, seed 1                          -0.47  0.64     -0.14  0.64      0.36  0.82
same, seed 2                           0.29  0.85      0.44  0.89      0.84  0.88
=====================================  ==============  ==============  ==============

So the attribution side is sound (on the workflow's default decoder DeepLIFT recovers β,
0.89-0.96, and agrees with grad × input, 0.75-1.00), and the disagreement is the model's:
in the seed-0 deeper model (trained on the unscaled matrix) the loadings reach an
interpretability loss of 756 against 715 at β and 767 at ``v = 0``. The deeper, more
non-linear decoder also pulls the first PC of DeepLIFT away from β in some dimensions
(0.13, 0.36): a centred PCA of attributions follows how they vary over cells, and there
the decoder's gradient varies over cells 5-10 times more than its squared mean. The
workflow's default model (hidden (128, 64), 40 epochs per stage) gives a median of 0.91,
0.99 and 0.57 over seeds 0, 1, 2 (paper 0.98); the default run's figures.tsv had 0.94.

The test uses that default model and asserts what held for every seed above: DeepLIFT
agrees with β in every dimension, siVAE agrees with DeepLIFT in every dimension whose
loadings have converged to β, and in at least one dimension.
"""

from __future__ import annotations

import numpy as np
import pytest
import sivae
import torch
from sivae import attribution as at

N_ATTRIBUTION_CELLS = 50


@pytest.mark.slow
def test_sivae_loadings_agree_with_decoder_deeplift_where_interpretability_converged():
    torch.set_num_threads(1)
    adata = sivae.datasets.pbmc68k_reduced()
    sivae.SIVAE.setup_anndata(adata, scale=True)
    # the workflow's default siVAE for pbmc68k_reduced (config.yaml model_defaults)
    model = sivae.SIVAE(adata, n_latent=2, hidden=(128, 64), seed=0)
    model.train(max_epochs=40, progress_bar=False, device="cpu")  # 240 steps per stage
    z = model.get_latent_representation()
    x = np.asarray(adata.X, dtype=np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)  # what the model sees (scale=True)
    design = np.c_[np.ones(len(z)), z]
    least_squares = np.linalg.lstsq(design, x, rcond=None)[0][1:].T  # (genes, K)

    cells = np.random.default_rng(0).choice(z.shape[0], N_ATTRIBUTION_CELLS, replace=False)
    decoder = model.cell_decoder
    # Orient every attribution loading like the mean decoder gradient (sign of a PC is arbitrary)
    mean_gradient = at.jacobian(decoder, z[cells]).mean(axis=0)  # (genes, K)
    loadings = {
        "sivae": model.get_loadings().to_numpy(),
        "deeplift": at.attribution_loadings(
            at.attribute(decoder, z[cells], "deeplift", progress=False),
            "decoder",
            sign_reference=mean_gradient,
        ),
        "grad_x_input": at.attribution_loadings(
            at.forward_attribute(decoder, z[cells], "grad_x_input"),
            "decoder",
            sign_reference=mean_gradient,
        ),
        "least_squares": least_squares,
    }
    table = at.agreement_table(loadings)
    print(table.to_string())

    def spearman(a: str, b: str) -> np.ndarray:
        rows = table[(table["method_a"] == a) & (table["method_b"] == b)]
        return rows.sort_values("dimension")["spearman"].to_numpy()

    with_deeplift = spearman("sivae", "deeplift")
    converged = spearman("sivae", "least_squares") >= 0.8
    print("siVAE vs DeepLIFT, median over dimensions (paper 0.98):", np.median(with_deeplift))
    print("siVAE loadings converged to least squares, per dimension:", converged)

    assert spearman("deeplift", "least_squares").min() >= 0.8  # measured 0.89-0.96
    assert (with_deeplift[converged] >= 0.8).all()  # measured 0.84-0.99
    assert with_deeplift.max() >= 0.85  # measured 0.90-0.99
    assert spearman("deeplift", "grad_x_input").min() > 0.5  # measured 0.75-1.00
