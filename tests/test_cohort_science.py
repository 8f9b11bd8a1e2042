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
def test_sivae_per_bin_finds_the_mt_module():
    # 10 bins of 400 cells, K=8, hidden (128, 64), 20 epochs (80 steps per stage) per bin.
    # Measured (seed 1): MT top term, NES -2.49, FDR 0 (1000 permutations); all 13 MT
    # genes' centrality q < 0.05 while their mean expression has q >= 0.49; embedding took
    # 65 s with the 2 cores shared by other jobs (load ~8), ~30 s alone; 60 epochs gave
    # the same GSEA result in 215 s. PC1 of the group embedding is NOT associated with the
    # phenotype at this size with siVAE embeddings (Spearman -0.15, -0.19, -0.13 with gene
    # labels at top_fraction 0.005 / 0.01 / 0.02, +0.26 with degree labels), unlike the
    # PCA stand-in on 16 groups of >= 600 cells above, so only the GSEA and mean claims
    # are tested here.
    try:
        from sivae.model import SIVAE  # noqa: F401
    except (ImportError, AttributeError) as err:
        pytest.skip(f"sivae.SIVAE not available yet: {err}")
    import functools

    import torch

    torch.set_num_threads(1)
    adata = cohort(n_groups=10, cells_per_group=(400, 500), n_genes=100, module_size=12, seed=SEED)
    bins = sivae.pp.make_bins(adata, "group", bin_size=400, seed=0)
    embedder = functools.partial(
        co.sivae_gene_embedding,
        n_latent=8,
        batch_key="pool",
        hidden=(128, 64),
        train_kwargs={"max_epochs": 20, "progress_bar": False, "device": "cpu"},
    )
    emb, cent, bin_groups = co.embed_bins(adata, bins, embedder=embedder)
    tables = co.run_cohort_analysis(
        emb,
        cent,
        bin_groups,
        co.group_phenotype(adata, "group", "efficiency"),
        mean_expression=co.group_mean_expression(adata, "group"),
        gene_sets={k: list(v) for k, v in adata.uns["cohort"]["gene_sets"].items()},
        top_fraction=0.005,
        node_label="gene",
        n_iter=1,
        permutation_num=1000,
    )
    top = tables["gsea"].iloc[0]
    assert top["Term"] == "MT" and top["NES"] < 0 and top["FDR q-val"] < 0.05
    table = tables["centrality_phenotype"].set_index("gene")
    mt = list(adata.uns["cohort"]["mt_genes"])
    assert (table.loc[mt, "mean_q"] > 0.05).all()
    assert (table.loc[mt, "q"] < 0.05).mean() >= 0.8  # their connectivity IS associated
    emb = tables["group_embedding"]
    print("PC1 Spearman with efficiency:", stats.spearmanr(emb["PC1"], emb["phenotype"]).statistic)
