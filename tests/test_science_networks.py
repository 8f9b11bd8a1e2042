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
paper's advantage (Fig. 5a) is measured on the fetal liver atlas, not on this simulation.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss
import sivae
import torch
from sivae.metrics import silhouette
from sivae.networks import gcn_degree_centrality, infer_network
from sklearn.metrics import roc_auc_score

N_CELLS = 2000


def _auroc(high: np.ndarray, low: np.ndarray) -> float:
    """P(score of a ``high`` gene > score of a ``low`` gene), ties counted half."""
    labels = np.r_[np.ones(high.size), np.zeros(low.size)]
    return float(roc_auc_score(labels, np.r_[high, low]))


def _ranking_scores(centrality: np.ndarray, adata) -> dict[str, float]:
    degree = np.asarray(adata.varp["adjacency"]).sum(axis=1)
    community = adata.var["community"].to_numpy()
    hub = adata.var["is_hub"].to_numpy()
    spoke = (community >= 0) & ~hub
    isolated = community < 0
    return {
        "spearman": float(ss.spearmanr(centrality, degree).statistic),
        "hub_vs_spoke": _auroc(centrality[hub], centrality[spoke]),
        "spoke_vs_isolated": _auroc(centrality[spoke], centrality[isolated]),
    }


HIDDEN = (128, 64, 32)


@pytest.fixture(scope="module")
def hub_model():
    torch.set_num_threads(1)
    adata = sivae.datasets.hub_network(n_cells=N_CELLS, seed=0)
    model = sivae.SIVAE(adata, n_latent=8, hidden=HIDDEN, seed=0)
    model.train(max_epochs=30, progress_bar=False, device="cpu")  # 480 steps per stage
    return adata, model


@pytest.mark.slow
def test_hub_network_loadings_and_centrality(hub_model):
    """Loadings cluster by community, isolated genes sit near the origin, hubs reconstruct best."""
    adata, model = hub_model
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


@pytest.mark.slow
def test_sivae_centrality_as_good_as_gcn_methods(hub_model):
    adata, model = hub_model
    X = np.asarray(adata.X)
    scores = {"sivae": _ranking_scores(model.get_degree_centrality().to_numpy(), adata)}
    for method in ("clr", "aracne", "mrnet"):
        weights = infer_network(X, method)
        scores[method] = _ranking_scores(gcn_degree_centrality(weights).to_numpy(), adata)
    # arboreto's settings but 10 trees per target: 5000 would take hours on 2 cores
    weights = infer_network(X, "grnboost2", n_jobs=2, n_estimators=10)
    scores["grnboost2"] = _ranking_scores(gcn_degree_centrality(weights).to_numpy(), adata)
    for name, s in scores.items():
        print(
            f"{name:10s} spearman={s['spearman']:.3f} hub>spoke AUROC={s['hub_vs_spoke']:.3f} "
            f"spoke>isolated AUROC={s['spoke_vs_isolated']:.3f}"
        )

    ours = scores.pop("sivae")
    assert ours["spearman"] >= 0.6  # tie ceiling 0.671
    for method, theirs in scores.items():
        for key in ("spearman", "hub_vs_spoke", "spoke_vs_isolated"):
            assert ours[key] >= theirs[key] - 1e-9, (method, key, ours[key], theirs[key])
