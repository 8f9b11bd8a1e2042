"""Scientific checks of the cohort analysis (Fig. 6) on the simulated cohort.

The PCA stand-in (loadings and -reconstruction error of a rank-10 PCA per bin)
replaces siVAE in the fast tests; the slow test repeats the GSEA claim with
siVAE per bin. Calibration over dataset seeds 0-3 at this size (bins of 600
cells, 16 groups): the MT set is the top GSEA term in 4/4; PC1 |Spearman| with
efficiency 0.78-0.92 with gene-identity WL labels, 0.31-0.86 with degree labels;
all 13 MT genes have mean-expression q > 0.05 in 7 of 8 seeds (seed 0 has one MT
gene at q = 0.014: each MT gene carries a random per-line offset, so a chance
correlation is expected about once in 20 seeds). The tests use seed 1.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import sivae
from scipy import stats
from sivae import cohort as co
from sivae.datasets._cohort import cohort

SEED = 1
BIN_SIZE = 600


def _bins(adata, group_key):
    return sivae.pp.make_bins(adata, group_key, bin_size=BIN_SIZE, seed=0)


@pytest.fixture(scope="module")
def study():
    adata = cohort(n_groups=16, cells_per_group=(BIN_SIZE, 1300), seed=SEED)
    bins = _bins(adata, "group")
    emb, cent, bin_groups = co.embed_bins(adata, bins, n_components=10, batch_key="pool")
    rows = np.concatenate([r for members in bins.values() for r in members])
    common = dict(
        mean_expression=co.group_mean_expression(adata, "group", cells=rows),
        gene_sets={k: list(v) for k, v in adata.uns["cohort"]["gene_sets"].items()},
        top_fraction=0.005,
        node_label="gene",
        n_iter=1,
        permutation_num=1000,
    )
    tables = co.run_cohort_analysis(
        emb, cent, bin_groups, co.group_phenotype(adata, "group", "efficiency"), **common
    )
    return adata, emb, cent, bin_groups, common, tables


def test_mt_module_is_top_gsea_term_with_falling_connectivity(study):
    adata, *_, tables = study
    gsea = tables["gsea"]
    top = gsea.iloc[0]
    assert top["Term"] == "MT"
    assert top["FDR q-val"] < 0.05 and top["NES"] < 0
    assert set(top["Lead_genes"].split(";")) <= set(adata.uns["cohort"]["mt_genes"])
    assert (gsea["status"] == "tested").all()


def test_mt_mean_expression_not_associated_but_mean_control_is(study):
    adata, *_, tables = study
    table = tables["centrality_phenotype"].set_index("gene")
    assert list(tables["centrality_phenotype"].columns) == [
        "gene", "rho", "p", "q", "mean_rho", "mean_p", "mean_q"
    ]  # fmt: skip
    mt = list(adata.uns["cohort"]["mt_genes"])
    assert (table.loc[mt, "mean_q"] > 0.05).all()
    assert (table.loc[mt, "q"] < 0.05).mean() >= 0.8  # centrality IS associated
    # positive control: the planted mean-shift module is found by the same mean test
    shift = adata.var_names[adata.var["module"] == adata.uns["cohort"]["mean_shift_module"]]
    assert (table.loc[shift, "mean_q"] < 0.05).mean() >= 0.5


def test_group_embedding_pc1_follows_phenotype(study):
    *_, tables = study
    emb = tables["group_embedding"]
    assert list(emb.columns) == ["group", "PC1", "PC2", "phenotype"]
    rho = stats.spearmanr(emb["PC1"], emb["phenotype"]).statistic
    assert abs(rho) >= 0.5
    assoc = tables["pc_association"].set_index("component")
    assert assoc.loc["PC1", "test"] == "spearman" and assoc.loc["PC1", "p"] < 0.05


def test_mt_edges_are_lost_in_high_phenotype_groups(study):
    *_, tables = study
    edges = tables["edges"]
    assert list(edges.columns) == [
        "gene_a",
        "gene_b",
        "statistic",
        "p",
        "q",
        "frac_case",
        "frac_control",
    ]
    assert len(edges) > 0 and edges["gene_a"].str.startswith("MT-").all()
    # median split: "case" = above-median efficiency, where MT co-expression is weakest
    assert (edges["frac_control"] > edges["frac_case"]).mean() >= 0.8
    assert edges["p"].min() < 0.05


def test_binary_phenotype_uses_mann_whitney(study):
    adata, emb, cent, bin_groups, common, _ = study
    status = co.group_phenotype(adata, "group", "status")
    tables = co.run_cohort_analysis(emb, cent, bin_groups, status, case_label="case", **common)
    assoc = tables["pc_association"].set_index("component")
    assert assoc.loc["PC1", "test"] == "mannwhitneyu"
    pc1 = tables["group_embedding"].set_index("group")["PC1"]
    case = status == "case"
    ref = stats.mannwhitneyu(pc1[case.index[case]], pc1[case.index[~case]], alternative="two-sided")
    assert assoc.loc["PC1", "p"] == pytest.approx(ref.pvalue)
    assert assoc.loc["PC1", "p"] < 0.05
    # cases (low efficiency) have the tight MT module: connectivity rises with "case"
    top = tables["gsea"].iloc[0]
    assert top["Term"] == "MT" and top["NES"] > 0 and top["FDR q-val"] < 0.05


def test_users_h5ad_with_own_keys_and_gmt(tmp_path, caplog):
    sim = cohort(n_groups=6, cells_per_group=(300, 450), n_genes=120, module_size=15, seed=4)
    adata = ad.AnnData(
        X=sim.X,
        obs=pd.DataFrame(
            {
                "donor": sim.obs["group"].astype(str).str.replace("line", "D"),
                "dementia": np.where(sim.obs["status"] == "case", "yes", "no"),
                "pool_id": sim.obs["pool"].astype(str),
            },
            index=sim.obs_names,
        ),
        var=pd.DataFrame(index=sim.var_names),
    )
    adata.obs.loc[adata.obs["donor"] == "D05", "donor"] = "D_small"  # made too small below
    keep = ~((adata.obs["donor"] == "D_small").to_numpy() & (np.arange(adata.n_obs) % 2 == 0))
    adata = adata[keep].copy()
    h5ad = tmp_path / "user.h5ad"
    adata.write_h5ad(h5ad)
    gmt = tmp_path / "kegg_like.gmt"
    sets = {k: list(v) for k, v in sim.uns["cohort"]["gene_sets"].items()}
    gmt.write_text(
        "".join(f"{k}\tna\t" + "\t".join(v) + "\n" for k, v in sets.items())
        + "KEGG_PARKINSONS_DISEASE\thttp://x\tUBB\tSNCA\tPRKN\n"
    )

    user = ad.read_h5ad(h5ad)
    with caplog.at_level(logging.INFO):
        bins = sivae.pp.make_bins(user, "donor", bin_size=200, seed=0)
        emb, cent, bin_groups = co.embed_bins(user, bins, n_components=6, batch_key="pool_id")
        tables = co.run_cohort_analysis(
            emb,
            cent,
            bin_groups,
            co.group_phenotype(user, "donor", "dementia"),
            mean_expression=co.group_mean_expression(user, "donor"),
            gene_sets=str(gmt),
            edge_gene_set="MT",
            permutation_num=100,
        )
    assert "D_small" in caplog.text  # dropped: fewer cells than one bin
    assert set(tables["group_embedding"]["group"]) == {f"D{i:02d}" for i in range(5)}
    gsea = tables["gsea"].set_index("Term")
    assert gsea.loc["KEGG_PARKINSONS_DISEASE", "status"] == "no overlap"
    assert np.isnan(gsea.loc["KEGG_PARKINSONS_DISEASE", "NES"])
    assert "KEGG_PARKINSONS_DISEASE" in caplog.text
    assert {"MT", *sets} <= set(gsea.index)
    assert tables["centrality"].shape == (5, user.n_vars)


@pytest.mark.slow
def test_sivae_per_bin_group_embedding_and_mt_module():
    """siVAE per bin: PC1 of the WL group embedding follows efficiency; GSEA finds MT.

    16 lines, one 400-cell bin each, 100 genes; pool regressed out within each line first
    (the paper's per-line ``regress_out`` of ``pool_id``); one siVAE per bin (K=8,
    hidden (128, 64), 100 epochs = 400 steps per stage, all bins trained together by
    ``sivae_gene_embedding_batched``); networks = the 2% closest gene pairs by cosine
    distance (99 edges, mean degree 2: sparser than the original's top 0.1-1% of
    ~3300 genes, mean degree 3-33), WL with gene labels, one iteration.

    Measured |Spearman(PC1, efficiency)| over dataset seeds 0-7 (seeds 0-4 chose
    the settings, 5-7 were held out), all with PC1 p < 0.05:
    0.83, 0.69, 0.74, 0.62, 0.89 | 0.76, 0.75, 0.81. The same embeddings with the
    paper's Euclidean closest pairs: 0.84, 0.81, 0.33, 0.42, 0.79, 0.75, 0.70, 0.73
    at top 0.5% and 0.77, 0.59, 0.17, 0.49, 0.89, 0.28, 0.50, 0.03 at top 2% (gene
    labels); with degree labels (the original; WL 5 iterations) cosine 2% gives 0.71,
    0.62, 0.37, 0.24, 0.53, 0.49, 0.45, 0.16 and Euclidean 0.5% 0.36, 0.41, 0.49,
    0.27, 0.58, 0.47, 0.00, 0.75. The MT set is the top GSEA term (NES -2.2 to -2.4,
    FDR 0) in 7 of 8 seeds (seed 2: the mean-shift control module1 comes first, NES
    +2.4); every MT gene's centrality has q < 0.05 and mean-expression q > 0.05
    (smallest 0.06) in 8 of 8. These were measured with the pool centred within
    (line, pool) by hand; the test uses ``sivae.pp.regress_out`` (the same residuals up
    to float rounding, which changes the training run): seed 1 gives PC1 -0.62, p 0.01
    (cosine 2%, gene labels) and -0.76 / -0.70 / -0.57 for the three variants printed.

    Why the earlier version (10 lines, in-model ``batch_key``, 20 epochs) found no
    PC1 association (|rho| <= 0.26), measured:
    (1) at 80 steps per stage the gene embedding has no module structure yet (a
    module gene's nearest neighbour is in its module for 28-32% of them; 91-97%
    after 400 steps; PCA 97-98%);
    (2) siVAE's in-model batch correction keeps the pool out of the cell embedding
    but not out of the gene embedding (the pool enters through the decoder, so each
    gene's weights carry its pool shift): with it, seed 1 gives a bin's MT-edge count
    vs efficiency Spearman -0.76 instead of -0.93 and PC1 |rho| 0.30 (p 0.25)
    instead of 0.69, at 2.6x the CPU time;
    (3) under Euclidean distance the background genes, which sit near the origin
    (about half the norm of module genes), make up 7-56% of a bin's top-2% pairs
    (PCA stand-in 0-24%, cosine 0-1%), a share that varies from bin to bin and
    drives the kernel's PC1 instead of the MT edges.
    Runs in ~70 s of CPU (one thread), 70-100 s wall on the shared 2-core machine.
    """
    try:
        from sivae.model import train_bins  # noqa: F401
    except (ImportError, AttributeError) as err:
        pytest.skip(f"sivae.model.train_bins not available yet: {err}")
    import functools

    import torch

    torch.set_num_threads(1)
    raw = cohort(n_groups=16, cells_per_group=(400, 500), n_genes=100, module_size=12, seed=SEED)
    # the paper's preprocessing: regress pool_id out within each line
    adata = sivae.pp.regress_out(raw, ["pool"], group_key="group", copy=True)
    bins = sivae.pp.make_bins(adata, "group", bin_size=400, seed=0)
    embedder = functools.partial(
        co.sivae_gene_embedding_batched,
        n_latent=8,
        hidden=(128, 64),
        train_kwargs={"max_epochs": 100, "progress_bar": False, "device": "cpu"},
    )
    emb, cent, bin_groups = co.embed_bins(adata, bins, multi_embedder=embedder)
    rows = np.concatenate([r for members in bins.values() for r in members])
    common = dict(
        # the mean-expression control reads the uncorrected data: centring within
        # line removes every line's mean
        mean_expression=co.group_mean_expression(raw, "group", cells=rows),
        gene_sets={k: list(v) for k, v in raw.uns["cohort"]["gene_sets"].items()},
        top_fraction=0.02,
        permutation_num=1000,
    )
    phenotype = co.group_phenotype(raw, "group", "efficiency")
    tables = co.run_cohort_analysis(
        emb, cent, bin_groups, phenotype, metric="cosine", node_label="gene", n_iter=1, **common
    )
    top = tables["gsea"].iloc[0]
    assert top["Term"] == "MT" and top["NES"] < 0 and top["FDR q-val"] < 0.05
    table = tables["centrality_phenotype"].set_index("gene")
    mt = list(raw.uns["cohort"]["mt_genes"])
    assert (table.loc[mt, "mean_q"] > 0.05).all()
    assert (table.loc[mt, "q"] < 0.05).mean() >= 0.8  # their connectivity IS associated
    group_emb = tables["group_embedding"]
    rho = stats.spearmanr(group_emb["PC1"], group_emb["phenotype"]).statistic
    assoc = tables["pc_association"].set_index("component")
    print(f"cosine 2%, gene labels: PC1 Spearman {rho:+.2f}, p {assoc.loc['PC1', 'p']:.2g}")
    assert abs(rho) >= 0.5
    assert assoc.loc["PC1", "test"] == "spearman" and assoc.loc["PC1", "p"] < 0.05
    # the paper's Euclidean rule and the original degree labels, reported (see docstring)
    for metric, fraction, label, n_iter in [
        ("euclidean", 0.005, "gene", 1),
        ("euclidean", 0.005, "degree", 5),
        ("cosine", 0.02, "degree", 5),
    ]:
        other = co.run_cohort_analysis(
            emb,
            cent,
            bin_groups,
            phenotype,
            metric=metric,
            node_label=label,
            n_iter=n_iter,
            **{**common, "top_fraction": fraction, "permutation_num": 10},
        )["pc_association"].set_index("component")
        print(
            f"{metric} {fraction:.1%}, {label} labels: PC1 Spearman "
            f"{other.loc['PC1', 'statistic']:+.2f}, p {other.loc['PC1', 'p']:.2g}"
        )
