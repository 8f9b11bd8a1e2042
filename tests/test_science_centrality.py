"""siVAE degree centrality against the ground truth on real data (issue #4, Fig. 5a).

Paper (fetal liver atlas, K=64): Spearman between a method's degree centrality and the
ground truth of Methods (per query gene, the held-out variance of all other genes that a
network from that gene alone explains: ``sivae.networks.true_degree_centrality``) is 0.90
for siVAE against a median of 0.36 for the GCN methods.

Here: pbmc68k_reduced (700 cells × 765 genes), ``layers["lognorm"]`` standardised per gene,
which is the paper's preprocessing (log-normalise, scale). Scanpy's shipped ``X`` is also
regressed on counts and mitochondrial fraction; the ranking of the methods is the same on
it (below). Sizes scaled down from Methods as in ``config.yaml`` (ground-truth networks
16-16 hidden, 30 epochs, 20 % of cells held out) on every 4th gene (192 query genes).
siVAE: K=64 as in the paper, hidden (128, 64), ~500 steps per stage. siVAE centrality is
minus the per-gene reconstruction error; the GCN methods' is the mean edge weight.

Measured Spearman with the ground truth (siVAE over model seeds 0/1/2; ground truth of
split seed 0, of seeds 1 and 2, and the mean of the three):

======================  ===================  =============  =============
method                  split 0              splits 1, 2    mean of 3
======================  ===================  =============  =============
siVAE K=64 (128, 64)    0.848 0.841 0.846    0.834-0.845    0.890-0.892
siVAE K=16 (128, 64)    0.848 0.844 0.844    0.837-0.843    0.893-0.897
siVAE K=8 (256,128,64)  0.839 0.843 0.830    0.837 0.836    0.888-0.893
siVAE K=16 (256,128,64) 0.848 0.850 0.854    0.836-0.843    0.894-0.901
MRNET                   0.865                0.861 0.853    0.916
CLR                     0.785                0.782 0.806    0.838
ARACNE                  0.681                0.678 0.662    0.679
GRNBoost2 (10 trees)    0.481                0.515 0.515    0.529
======================  ===================  =============  =============

The ground truth itself is noisy: two splits agree at Spearman 0.80-0.82 (140 held-out
cells), so every method's correlation is bounded near there, and averaging three splits
lifts them all. siVAE is clearly better than CLR (by 0.03-0.07), ARACNE (0.15-0.18) and
GRNBoost2 with 10 trees (0.33), but it is NOT better than MRNET, which stays 0.01-0.03
ahead in every comparison on this matrix. On scanpy's regressed ``X`` (split 0, genes
standardised by the model) siVAE and MRNET tie: siVAE K=64 0.799 0.800 0.803, K=8 0.800
(0.699 without standardising, since the error then follows each gene's variance), MRNET
0.798, CLR 0.717, ARACNE 0.659. The paper's gap to the GCN methods (0.90 vs 0.36) is not
reproduced on this small dataset: MI-based centrality is close to the ground truth's own
statistic (pairwise predictability summed over partners). K=64 with a 64-wide last
hidden layer (256, 128, 64) is unstable (0.779, 0.777, 0.866).
Training length (K=64, (128, 64), seed 0, split 0): ~250 steps per stage 0.774 (below
CLR), ~500 0.848, ~1000 0.843, ~2000 (the paper's schedule) 0.851. The test, which lets
the model keep the already-standardised matrix as is, measures 0.843.

The original code's GCN input
----------------------------
The original fetal liver pipeline did not give the GCN methods the matrix siVAE saw:
``prepare_input_for_grn.py`` exported ``convert2raw(adata)``, the raw UMI counts of the
selected genes (``adata.raw`` is set before ``normalize_total`` in
``repo_FetalLiver_1_preprocess.py``), and ``MI.R`` ran minet on them. Spearman MI is
blind to log1p but not to library size, which every gene's counts share. The same on
this matrix (``layers["counts"]``, split 0; ``network.gcn_layer: counts`` in
``config/paper.yaml``): MRNET 0.843, CLR 0.674, ARACNE 0.659 (Pearson MI: 0.734, 0.530,
0.681). siVAE (0.841-0.848) then ties MRNET and is 0.17 ahead of CLR: part of the paper's
gap (0.90 vs a median of 0.36) is this choice of input, not the method.

The test asserts what held in every run: siVAE ahead of CLR and ARACNE with margin, and a
correlation near the ground truth's reliability; MRNET's lead is printed, not asserted.
GRNBoost2 is left out (6 min for 765 targets even with 10 trees, one process).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss
import sivae
import torch
from sivae.networks import gcn_degree_centrality, infer_network, true_degree_centrality


@pytest.mark.slow
def test_sivae_degree_centrality_on_pbmc_beats_clr_and_aracne():
    torch.set_num_threads(1)
    adata = sivae.datasets.pbmc68k_reduced()
    lognorm = np.asarray(adata.layers["lognorm"], dtype=np.float64)
    x = ((lognorm - lognorm.mean(axis=0)) / lognorm.std(axis=0)).astype(np.float32)
    adata.X = x
    query = np.arange(0, adata.n_vars, 4)
    truth = true_degree_centrality(
        x, hidden=(16, 16), epochs=30, genes=query, query_batch_size=32, seed=0, device="cpu"
    ).to_numpy()

    model = sivae.SIVAE(adata, n_latent=64, hidden=(128, 64), seed=0)
    model.train(max_epochs=84, progress_bar=False, device="cpu")  # ~500 steps per stage
    rho = {"sivae": ss.spearmanr(model.get_degree_centrality().to_numpy()[query], truth).statistic}
    counts = np.asarray(adata.layers["counts"], dtype=np.float64)
    for method in ("clr", "aracne", "mrnet"):
        centrality = gcn_degree_centrality(infer_network(x, method)).to_numpy()
        rho[method] = ss.spearmanr(centrality[query], truth).statistic
        # the original code's input: raw counts (docstring)
        centrality = gcn_degree_centrality(infer_network(counts, method)).to_numpy()
        rho[f"{method} on counts"] = ss.spearmanr(centrality[query], truth).statistic
    print({name: round(float(r), 3) for name, r in rho.items()})

    assert rho["sivae"] >= 0.8  # measured 0.841-0.848 (0.834-0.845 on other splits)
    assert rho["sivae"] > rho["clr"] + 0.02  # measured 0.056-0.063 (0.028-0.063 other splits)
    assert rho["sivae"] > rho["aracne"] + 0.1  # measured 0.16-0.17
    # Not asserted: MRNET (0.865) is ahead of siVAE here (issue #4, docstring).
    # On counts, as the original code ran them, CLR and ARACNE fall further behind
    # (measured 0.674 and 0.659) and MRNET ties (0.843).
    assert rho["sivae"] > max(rho["clr on counts"], rho["aracne on counts"]) + 0.1
