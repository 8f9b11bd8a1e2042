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
