"""siVAE on the simulated hub network: loadings, and centrality against the GCN methods.

Ground truth: every community has one hub (degree 49), 49 spokes (degree 1), and 50
genes are isolated (degree 0). Spearman with the true degree sits at its tie ceiling
(0.671, DESIGN §8) for any method that orders hub > spoke > isolated, so the tie-free
comparisons are AUROCs: hub vs spoke and spoke vs isolated (issue #4).

One siVAE model (K=8: the paper uses K=64 for network analyses, and isolated genes near
the origin need K>=8, DESIGN §8) serves both tests. Measured (seed 0, 2000 cells, 480
steps per stage; 2 shared CPU cores):

============  ========  ==============  ===================
method        Spearman  hub>spoke AUROC spoke>isolated AUROC
============  ========  ==============  ===================
siVAE (K=8)   0.671     1.000           1.000
CLR           0.671     1.000           1.000
ARACNE        0.671     1.000           1.000
MRNET         0.671     1.000           1.000
GRNBoost2 10  0.566     1.000           0.912
siVAE (K=2)   0.633     0.842           0.981
============  ========  ==============  ===================

So siVAE is as good as the best GCN method on this easy Gaussian tree-structured network
and better than GRNBoost2 (10 trees) at separating spokes from isolated genes; it is
not strictly better than CLR/ARACNE/MRNET, which are already perfect here. At K=2 it is
worse (0.842): the capacity of a 2-D embedding is too small to keep every hub. The
paper's advantage (Fig. 5a) is measured on the fetal liver atlas (tested on real data in
test_science_centrality.py).

Weak links: where the GCN methods leave the ceiling
---------------------------------------------------
Lowering rho makes spokes hard to tell from isolated genes; hubs stay easy for
everyone but GRNBoost2. Each gene is standardised as the paper's preprocessing does
(``scale``; the rank-based GCN methods do not see it). Two regimes were measured.

More cells than genes: 1000 cells, rho 0.2 (hub-spoke correlation 0.20). This is the
tested case (``benchmarks/hub_centrality_study.py`` reruns it; tables in
``benchmarks/results.md``). siVAE K=8, 1000 steps per stage (the test) and 2000 (the
library's and the paper's schedule); model seeds 0/1/2 on each data seed:

==============  =============  ======================  ========================
method          data seed      Spearman with degree    spoke>isolated AUROC
==============  =============  ======================  ========================
siVAE 1000      0 / 1 / 2      0.639-0.661 (9 runs)    0.973-0.992 (9 runs)
siVAE 2000      0 / 1 / 2      0.651-0.661 (9 runs)    0.983-0.992 (9 runs)
MRNET           0 / 1 / 2      0.552 0.551 0.575       0.900 0.900 0.919
ARACNE          0 / 1 / 2      0.402 0.404 0.415       0.775 0.777 0.786
GRNBoost2 (10)  0 / 1 / 2      0.209 0.223 0.259       0.633 0.629 0.658
CLR             0 / 1 / 2      -0.108 -0.134 -0.075    0.348 0.327 0.376
==============  =============  ======================  ========================

Hub>spoke AUROC is 1.000 in all 18 siVAE runs and for the minet methods, and
0.83-0.98 for GRNBoost2. siVAE is ahead of every GCN method in every run, by at least
0.082 (Spearman) and 0.069 (spoke>isolated) over MRNET on the same data. The same 18
runs with the genes standardised in float64 instead of float32 move by up to 0.017
(training amplifies rounding) and are all ahead too. It needs the training: at 480 steps
per stage it is not ahead (Spearman 0.520-0.589, spoke>isolated 0.873-0.931, behind
MRNET on data seed 2). Nor is 1000 cells at rho 0.2 the only place it leads (data and
model seed 0): at rho 0.15, where MRNET falls to 0.386 / 0.762, siVAE K=8 reaches
0.594 / 0.936 (1000 steps) and 0.604 / 0.944 (2000); K=64, the paper's size for network
analyses, at rho 0.2 gives 0.590 / 0.932 and 0.600 / 0.941, still ahead of MRNET but by
less. CLR's z-scores normalise each gene's MI by its own row, which at this many cells
ranks spokes (whose row holds 48 indirect links) below isolated genes.

As many cells as genes: 300 cells, rho 0.3 (hub-spoke correlation 0.27-0.32), not
tested. Same study, steps per stage 480 / 615 / 1000 (ranges over model seeds 0/1/2 on
each data seed):

==============  =================================  =================================
method          Spearman, data seeds 0 / 1 / 2     spoke>isolated, data seeds 0/1/2
==============  =================================  =================================
siVAE 480       .597-.661 / .606-.659 / .613-.664  .948-.991 / .950-.990 / .955-.994
siVAE 615       .616-.662 / .648-.662 / .656-.669  .954-.992 / .980-.992 / .987-.998
siVAE 1000      .481-.548 / .522-.618 / .489-.603  .841-.897 / .875-.956 / .848-.943
MRNET           0.615 / 0.589 / 0.600              0.952 / 0.931 / 0.940
CLR             0.434 / 0.432 / 0.460              0.802 / 0.800 / 0.823
ARACNE          0.282 / 0.248 / 0.217              0.675 / 0.646 / 0.620
GRNBoost2 (10)  0.219 / 0.191 / 0.155              0.623 / 0.603 / 0.572
==============  =================================  =================================

siVAE is ahead of every method in 8 of 9 runs at 480 steps, 9 of 9 at 615 and 2 of 9 at
1000 (both statistics); hub>spoke is 1.000 at 615 and 1000 steps, 0.88-1.0 at 480.

Short runs may not keep every hub yet; long ones overfit 300 cells (the centrality is the
error on the training cells, so memorised isolated genes look connected). Over CLR,
ARACNE and GRNBoost2 siVAE leads at every length. K=64 (the paper's size for network
analyses; data and model seed 0) at 480/615/1000 steps: Spearman 0.575/0.586/0.581,
spoke>isolated 0.919/0.928/0.925, below MRNET.

Measured with the weight initialisation before per-model generators (same regime):
early stopping does not pick the length: with 10 % of cells held out it stops at 54-75
steps, during the KL warm-up (Spearman 0.18-0.27). Without standardising, siVAE's error carries each gene's sample variance (±8 % at 300
cells): model seed 0, 615 steps gives Spearman 0.529, spoke>isolated 0.881. With unequal
communities (sizes 10/20/40/80/100, 300 cells, rho 0.3, 615 steps) siVAE is ahead on
spoke>isolated (0.955 0.948 0.974 vs MRNET 0.928, CLR 0.788) but loses hubs of small
communities in 2 of 3 seeds (hub>spoke 0.670 1.000 0.817 vs 0.999). Those cases are not
tested.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss
import sivae
import torch
from sivae.metrics import hub_ranking_scores, silhouette
from sivae.networks import gcn_degree_centrality, infer_network

N_CELLS = 2000
HIDDEN = (128, 64, 32)


def _scores_by_method(model, adata, X: np.ndarray) -> dict[str, dict[str, float]]:
    """Ranking scores of siVAE's centrality and of each GCN method's on ``X``, printed."""
    scores = {"sivae": hub_ranking_scores(model.get_degree_centrality().to_numpy(), adata)}
    for method in ("clr", "aracne", "mrnet"):
        weights = infer_network(X, method)
        scores[method] = hub_ranking_scores(gcn_degree_centrality(weights).to_numpy(), adata)
    # arboreto's settings but 10 trees per target: 5000 would take hours on 2 cores
    weights = infer_network(X, "grnboost2", n_jobs=2, n_estimators=10)
    scores["grnboost2"] = hub_ranking_scores(gcn_degree_centrality(weights).to_numpy(), adata)
    for name, s in scores.items():
        print(
            f"{name:10s} spearman={s['spearman']:.3f} hub>spoke AUROC={s['hub_vs_spoke']:.3f} "
            f"spoke>isolated AUROC={s['spoke_vs_isolated']:.3f}"
        )
    return scores


@pytest.fixture(scope="module")
def hub_model():
    torch.set_num_threads(1)
    adata = sivae.datasets.hub_network(n_cells=N_CELLS, seed=0)
    model = sivae.SIVAE(adata, n_latent=8, hidden=HIDDEN, seed=0)
    model.train(max_epochs=30, progress_bar=False, device="cpu")  # 480 steps per stage
    return adata, model


@pytest.mark.slow
def test_hub_network_loadings_and_centrality(hub_model):
    """Loadings cluster by community, isolated genes sit near the origin, hubs reconstruct best.

    "Nearer the origin" is tested as the claim is stated: isolated genes' loading
    norms are stochastically smaller than community genes' (one-sided Mann–Whitney)
    and their median is smaller. How much smaller depends on the seed: over model
    seeds 0–5 the ratio of medians was 0.29–0.74 (p ≤ 1.3e-21 every time), and
    0.38–0.70 before the weight initialisation moved to a per-model generator. An
    earlier version asserted a ratio below 0.6, which held for about half the seeds
    under either initialisation, so it tested the seed rather than the model.
    """
    adata, model = hub_model
    loadings = model.get_loadings().to_numpy()
    community = adata.var["community"].to_numpy()
    in_community = community >= 0
    assert silhouette(loadings[in_community], community[in_community]) >= 0.3

    norms = np.linalg.norm(loadings, axis=1)
    isolated, member = norms[~in_community], norms[in_community]
    assert ss.mannwhitneyu(isolated, member, alternative="less").pvalue < 1e-6
    assert np.median(isolated) < np.median(member)

    error = model.get_reconstruction_error().to_numpy()
    is_hub = adata.var["is_hub"].to_numpy()
    hubs_best = 0
    for c in np.unique(community[in_community]):
        members = np.flatnonzero(community == c)
        ranks = ss.rankdata(error[members])
        hubs_best += ranks[is_hub[members]][0] <= 3
    assert hubs_best >= 4


@pytest.mark.slow
def test_sivae_centrality_as_good_as_gcn_methods(hub_model):
    adata, model = hub_model
    scores = _scores_by_method(model, adata, np.asarray(adata.X))

    ours = scores.pop("sivae")
    assert ours["spearman"] >= 0.6  # tie ceiling 0.671
    for method, theirs in scores.items():
        for key in ("spearman", "hub_vs_spoke", "spoke_vs_isolated"):
            assert ours[key] >= theirs[key] - 1e-9, (method, key, ours[key], theirs[key])


@pytest.mark.slow
def test_sivae_centrality_beats_every_gcn_method_on_weak_hub_network():
    """1000 cells, rho 0.2: siVAE ranks genes by degree better than MRNET, CLR, ARACNE
    and GRNBoost2, on both tie-free statistics (measured margins in the docstring)."""
    torch.set_num_threads(1)
    adata = sivae.datasets.hub_network(n_cells=1000, rho=0.2, seed=0)
    X = np.asarray(adata.X)
    adata.X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    model = sivae.SIVAE(adata, n_latent=8, hidden=HIDDEN, seed=0)
    model.train(max_epochs=125, progress_bar=False, device="cpu")  # 1000 steps per stage
    scores = _scores_by_method(model, adata, X)

    ours = scores.pop("sivae")
    assert ours["hub_vs_spoke"] >= 0.99  # 1.000 in all 18 runs of >= 1000 steps
    for method, theirs in scores.items():
        # smallest measured margins, over MRNET: 0.082 (Spearman), 0.069 (spoke>isolated)
        assert ours["spearman"] > theirs["spearman"] + 0.04, (method, ours, theirs)
        assert ours["spoke_vs_isolated"] > theirs["spoke_vs_isolated"] + 0.03, (method, ours)
