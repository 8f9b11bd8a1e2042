"""Shared pytest fixtures (kept small; ask the data helper before adding)."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp


@pytest.fixture
def counts_adata():
    """300 cells × 60 genes of Poisson counts (CSR) with groups, batches and MT genes.

    ``obs``: ``cell_type`` (3 types, 150/100/50 cells), ``donor`` (4 donors),
    ``pool`` (2 pools), ``score`` (continuous). Genes ``MT-1``..``MT-3`` are
    mitochondrial; gene ``g59`` is never detected.
    """
    rng = np.random.default_rng(0)
    n_cells, n_genes = 300, 60
    cell_type = np.repeat(["A", "B", "C"], [150, 100, 50])
    rate = rng.gamma(2.0, 1.0, size=(3, n_genes))
    codes = pd.Categorical(cell_type).codes
    counts = rng.poisson(rate[codes] * rng.uniform(0.5, 2.0, size=(n_cells, 1)))
    counts[:, -1] = 0
    var_names = ["MT-1", "MT-2", "MT-3"] + [f"g{i}" for i in range(3, n_genes)]
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(cell_type),
            "donor": pd.Categorical(rng.choice(["d0", "d1", "d2", "d3"], size=n_cells)),
            "pool": pd.Categorical(rng.choice(["p0", "p1"], size=n_cells)),
            "score": rng.normal(size=n_cells),
        },
        index=pd.Index([f"c{i}" for i in range(n_cells)]),
    )
    return ad.AnnData(
        X=sp.csr_matrix(counts.astype(np.float32)),
        obs=obs,
        var=pd.DataFrame(index=pd.Index(var_names)),
    )


# Modules that take minutes, longest first (measured with --durations on 2 cores). With
# `--dist loadfile --no-loadscope-reorder` (Makefile) xdist hands out modules in this
# order, so the long ones start at once and the short ones fill in around them instead of
# one long module running alone at the end.
LONG_MODULES = (
    "test_e2e.py",
    "test_model_claim_original_schedule.py",
    "test_slurm.py",
    "test_cohort_science.py",
    "test_science_networks.py",
    "test_science_centrality.py",
    "test_model_science.py",
    "test_science_attribution.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable
