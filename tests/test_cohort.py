"""Unit tests of sivae.cohort (numerics against references) and of the cohort simulator."""

from __future__ import annotations

import logging
from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.spatial.distance import pdist, squareform
from sivae import cohort as co
from sivae.datasets._cohort import cohort


# --------------------------------------------------------------------------- statistics
def test_benjamini_hochberg_matches_scipy_and_keeps_nan():
    rng = np.random.default_rng(0)
    p = rng.random(50) ** 3
    np.testing.assert_allclose(co.benjamini_hochberg(p), stats.false_discovery_control(p))
    with_nan = p.copy()
    with_nan[[3, 7]] = np.nan
    q = co.benjamini_hochberg(with_nan)
    assert np.isnan(q[[3, 7]]).all()
    finite = np.isfinite(with_nan)
    np.testing.assert_allclose(q[finite], stats.false_discovery_control(with_nan[finite]))


def test_phenotype_association_matches_scipy_spearman():
    rng = np.random.default_rng(1)
    groups = [f"g{i}" for i in range(9)]
    table = pd.DataFrame(rng.normal(size=(9, 6)), index=groups, columns=list("abcdef"))
    table["e"] = np.round(table["e"])  # ties
    table["f"] = 2.0  # constant: no correlation defined
    phenotype = pd.Series(rng.random(9), index=groups[::-1])  # other order on purpose
    out = co.phenotype_association(table, phenotype)
    for gene in "abcde":
        ref = stats.spearmanr(table[gene], phenotype.loc[groups])
        assert out.loc[gene, "rho"] == pytest.approx(ref.statistic, abs=1e-12)
        assert out.loc[gene, "p"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert np.isnan(out.loc["f", ["rho", "p", "q"]].astype(float)).all()
    np.testing.assert_allclose(out["q"][:5], stats.false_discovery_control(out["p"][:5]))


def test_encode_phenotype_validation_and_coding():
    groups = [f"g{i}" for i in range(5)]
    with pytest.raises(ValueError, match="at least 4 groups"):
        co.encode_phenotype(pd.Series([0.1, 0.2, 0.3], index=groups[:3]))
    with pytest.raises(ValueError, match="constant"):
        co.encode_phenotype(pd.Series([0.5] * 5, index=groups))
    with pytest.raises(ValueError, match="exactly two values"):
        co.encode_phenotype(pd.Series(list("abcab"), index=groups))
    status = pd.Series(["case", "control", "case", "control", "control"], index=groups)
    coded, kind = co.encode_phenotype(status)
    assert kind == "binary"
    assert coded.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    values = pd.Series([0.3, np.nan, 0.1, 0.9, 0.5, 0.7], index=[*groups, "g5"])
    coded, kind = co.encode_phenotype(values)
    assert kind == "continuous" and "g1" not in coded.index and coded.size == 5


# --------------------------------------------------------------------------- networks
def test_gene_network_keeps_the_closest_pairs():
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(30, 3))
    adj, dist = co.gene_network(emb, top_fraction=0.05, return_distances=True)
    full = squareform(pdist(emb))
    pairs = sorted(combinations(range(30), 2), key=lambda ij: full[ij])
    n_edges = round(0.05 * len(pairs))
    dense = adj.toarray()
    assert (dense == dense.T).all() and np.diag(dense).sum() == 0
    assert {tuple(e) for e in np.argwhere(np.triu(dense))} == set(pairs[:n_edges])
    np.testing.assert_allclose(dist.toarray()[dense > 0], full[dense > 0])
    cut = full[pairs[n_edges - 1]]
    by_threshold = co.gene_network(emb, threshold=cut).toarray()
    np.testing.assert_array_equal(by_threshold, (full <= cut) & ~np.eye(30, dtype=bool))
    with pytest.raises(ValueError, match="top_fraction"):
        co.gene_network(emb, top_fraction=0)


def test_gene_network_cosine_ignores_scale_and_skips_zero_genes():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(25, 4))
    emb[7] = 0.0  # no direction: never linked
    full = squareform(pdist(np.delete(emb, 7, axis=0), "cosine"))
    keep = np.delete(np.arange(25), 7)
    n_edges = round(0.04 * 25 * 24 / 2)
    adj, dist = co.gene_network(emb, top_fraction=0.04, metric="cosine", return_distances=True)
    dense = adj.toarray()
    assert dense[7].sum() == 0 and (dense == dense.T).all()
    pairs = sorted(combinations(range(24), 2), key=lambda ij: full[ij])[:n_edges]
    assert {tuple(e) for e in np.argwhere(np.triu(dense))} == {(keep[i], keep[j]) for i, j in pairs}
    np.testing.assert_allclose(
        dist.toarray()[np.ix_(keep, keep)][dense[np.ix_(keep, keep)] > 0],
        full[dense[np.ix_(keep, keep)] > 0],
        atol=1e-12,
    )
    # genes moved along their own direction keep their cosine neighbours
    rescaled = emb * rng.uniform(0.1, 10.0, size=(25, 1))
    np.testing.assert_array_equal(
        co.gene_network(rescaled, top_fraction=0.04, metric="cosine").toarray(), dense
    )
    with pytest.raises(ValueError, match="metric"):
        co.gene_network(emb, metric="manhattan")


def _wl_reference(adjacencies, labels, n_iter):
    """Plain WL subtree kernel: sum over h = 0..n_iter of label-histogram dot products."""
    current = [list(lab) for lab in labels]
    feats = [Counter() for _ in adjacencies]
    for h in range(n_iter + 1):
        for k, lab in enumerate(current):
            feats[k].update((h, x) for x in lab)
        current = [
            [(lab[i], tuple(sorted(lab[j] for j in np.flatnonzero(a[i])))) for i in range(len(lab))]
            for a, lab in zip(adjacencies, current, strict=True)
        ]
    n = len(adjacencies)
    kernel = np.array(
        [[sum(feats[a][k] * feats[b][k] for k in feats[a]) for b in range(n)] for a in range(n)]
    )
    return kernel.astype(float)


@pytest.mark.parametrize("node_label", ["degree", "gene"])
def test_wl_kernel_matches_reference(node_label):
    rng = np.random.default_rng(3)
    nets = []
    for _ in range(5):
        upper = np.triu(rng.random((12, 12)) < 0.2, 1)
        nets.append((upper | upper.T).astype(float) * rng.uniform(0.5, 2.0))  # weights ignored
    binary = [(n != 0).astype(int) for n in nets]
    labels = [b.sum(1) if node_label == "degree" else np.arange(12) for b in binary]
    ref = _wl_reference(binary, labels, n_iter=3)
    raw = co.wl_kernel(
        [sp.csr_matrix(n) for n in nets], node_label=node_label, n_iter=3, normalize=False
    )
    np.testing.assert_allclose(raw, ref)
    norm = co.wl_kernel(nets, node_label=node_label, n_iter=3, normalize=True)
    np.testing.assert_allclose(norm, ref / np.sqrt(np.outer(np.diag(ref), np.diag(ref))))


def test_wl_gene_labels_count_identical_neighbourhoods():
    # With gene identity as labels, iteration 0 is the same constant for every pair and
    # iteration 1 counts the genes whose neighbour set is identical in both networks.
    rng = np.random.default_rng(4)
    upper = np.triu(rng.random((15, 15)) < 0.25, 1)
    a = (upper | upper.T).astype(int)
    b = a.copy()
    b[0, 1] = b[1, 0] = 1 - a[0, 1]  # flip one edge: genes 0 and 1 change neighbourhood
    k = co.wl_kernel([a, b], node_label="gene", n_iter=1, normalize=False)
    assert k[0, 1] == 15 + 13
    assert k[0, 0] == 15 + 15


def test_group_kernel_is_block_mean():
    rng = np.random.default_rng(5)
    x = rng.random((5, 5))
    kernel = x + x.T
    groups = ["b", "a", "b", "a", "c"]
    out = co.group_kernel(kernel, groups)
    assert list(out.index) == ["a", "b", "c"]
    idx = {g: [i for i, h in enumerate(groups) if h == g] for g in "abc"}
    for g in "abc":
        for h in "abc":
            assert out.loc[g, h] == pytest.approx(kernel[np.ix_(idx[g], idx[h])].mean())


# --------------------------------------------------------------------------- embeddings
def test_pca_gene_embedding_matches_sklearn():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(6)
    x = rng.normal(size=(80, 12)) @ rng.normal(size=(12, 12)) + 5
    loadings, centrality = co.pca_gene_embedding(x, n_components=3)
    z = (x - x.mean(0)) / x.std(0)
    pca = PCA(3).fit(z)
    ref = pca.components_.T * np.sqrt(pca.explained_variance_)
    np.testing.assert_allclose(np.abs(loadings), np.abs(ref), atol=1e-10)
    recon = pca.inverse_transform(pca.transform(z))
    np.testing.assert_allclose(centrality, -((z - recon) ** 2).mean(0), atol=1e-10)
    # batch centring = removing each batch's mean before standardising
    batch = np.repeat(["p0", "p1"], 40)
    shifted = x + np.where(batch == "p1", 3.0, 0.0)[:, None]
    lb, cb = co.pca_gene_embedding(shifted, 3, batch=batch)
    centred = shifted.copy()
    for level in ("p0", "p1"):
        centred[batch == level] -= centred[batch == level].mean(0)
    lr, cr = co.pca_gene_embedding(centred, 3)
    np.testing.assert_allclose(np.abs(lb), np.abs(lr), atol=1e-10)
    np.testing.assert_allclose(cb, cr, atol=1e-10)


def test_group_phenotype_and_mean_expression(tmp_path):
    adata = cohort(n_groups=5, cells_per_group=(20, 30), n_genes=40, module_size=5, seed=0)
    pheno = co.group_phenotype(adata, "group", "efficiency")
    assert pheno.size == 5
    np.testing.assert_allclose(pheno.to_numpy(), adata.uns["cohort"]["phenotype"]["efficiency"])
    means = co.group_mean_expression(adata, "group")
    ref = (
        pd.DataFrame(adata.X, columns=adata.var_names).groupby(adata.obs["group"].to_numpy()).mean()
    )
    np.testing.assert_allclose(means.loc[ref.index].to_numpy(), ref.to_numpy(), rtol=1e-5)
    sparse = adata.copy()
    sparse.X = sp.csr_matrix(sparse.X)
    np.testing.assert_allclose(
        co.group_mean_expression(sparse, "group").to_numpy(), means.to_numpy()
    )
    adata.obs["efficiency"] = np.arange(adata.n_obs, dtype=float)
    with pytest.raises(ValueError, match="constant within each 'group'"):
        co.group_phenotype(adata, "group", "efficiency")
    with pytest.raises(ValueError, match="'donor' not found"):
        co.group_phenotype(adata, "donor", "efficiency")


# --------------------------------------------------------------------------- edges
def test_edge_association_matches_mannwhitney_and_filters():
    genes = ["A", "B", "C", "D"]
    rng = np.random.default_rng(7)
    groups = [f"g{i}" for i in range(8)]
    pheno = pd.Series(np.linspace(0, 1, 8), index=groups)  # median split: g4..g7 are "case"
    networks, bin_groups, present = [], [], {}
    for g in groups:
        for _ in range(2):  # two bins per group
            a = np.zeros((4, 4))
            ab = rng.random() < (0.1 if pheno[g] > 0.5 else 0.9)  # A-B lost in "case"
            a[0, 1] = a[1, 0] = ab
            a[2, 3] = a[3, 2] = 1.0  # C-D everywhere (not a set edge)
            a[0, 2] = a[2, 0] = 1.0 if (g == "g0" and not present.get("AC")) else 0.0
            present["AC"] = True
            networks.append(a)
            bin_groups.append(g)
    out = co.edge_association(
        networks, bin_groups, pheno, "continuous", genes, ["A", "B", "C", "Z"]
    )
    # A-C appears in one bin of one group: 1/2/4 = 12.5% of control networks < 20% -> dropped
    assert out[["gene_a", "gene_b"]].values.tolist() == [["A", "B"]]
    weights = np.array(
        [
            np.mean([n[0, 1] for n, b in zip(networks, bin_groups, strict=True) if b == g])
            for g in groups
        ]
    )
    case = pheno.to_numpy() > pheno.median()
    ref = stats.mannwhitneyu(weights[case], weights[~case], alternative="two-sided")
    assert out.loc[0, "p"] == pytest.approx(ref.pvalue)
    assert out.loc[0, "statistic"] == pytest.approx(ref.statistic)
    assert out.loc[0, "frac_case"] == pytest.approx(weights[case].mean())
    incident = co.edge_association(
        networks, bin_groups, pheno, "continuous", genes, ["C"], scope="incident"
    )
    assert incident[["gene_a", "gene_b"]].values.tolist() == [["C", "D"]]
    assert incident.loc[0, "p"] == 1.0  # present everywhere: no evidence


# --------------------------------------------------------------------------- gene sets, GSEA
def test_read_gmt_and_resolve(tmp_path, caplog):
    path = tmp_path / "sets.gmt"
    path.write_text("SET1\tdesc\tA\tB\tB\t\nSET2\tna\n\nMT\tx\tFOO\n")
    sets = co.read_gmt(path)
    assert sets == {"SET1": ["A", "B"], "SET2": [], "MT": ["FOO"]}
    with caplog.at_level(logging.WARNING):
        resolved = co.resolve_gene_sets(str(path), ["A", "mt-Co1", "MT-ND1", "B"])
    assert resolved["MT"] == ["mt-Co1", "MT-ND1"] and "replaced" in caplog.text
    with pytest.raises(FileNotFoundError, match="KEGG_2021_Human"):
        co.resolve_gene_sets("KEGG_2021_Human", ["A"])  # an Enrichr name: never downloaded
    bad = tmp_path / "bad.gmt"
    bad.write_text("SET1 A B\n")
    with pytest.raises(ValueError, match="line 1"):
        co.read_gmt(bad)


def test_gsea_prerank_reports_untested_sets(caplog):
    rng = np.random.default_rng(8)
    genes = [f"G{i}" for i in range(100)]
    scores = pd.Series(rng.normal(size=100), index=genes)
    planted = genes[:10]
    scores[planted] = -3 - rng.random(10)  # bottom of the ranking
    sets = {
        "planted": planted,
        "random": genes[40:60],
        "absent": ["X1", "X2"],
        "tiny": genes[70:72],
    }
    with caplog.at_level(logging.WARNING):
        out = co.gsea_prerank(scores, sets, permutation_num=200, seed=0)
    assert list(out.columns[:5]) == co.GSEA_COLUMNS
    row = out.set_index("Term")
    assert out["Term"].iloc[0] == "planted" and row.loc["planted", "NES"] < 0
    assert row.loc["planted", "NOM p-val"] < 0.01
    assert row.loc["absent", "status"] == "no overlap" and np.isnan(row.loc["absent", "NES"])
    assert row.loc["tiny", "status"] == "too small"
    assert "no overlap" in caplog.text and "absent" in caplog.text


# --------------------------------------------------------------------------- simulator
def test_cohort_dataset_structure_and_determinism():
    kw = dict(n_groups=6, cells_per_group=(50, 80), n_genes=60, module_size=6, seed=3)
    a, b = cohort(**kw), cohort(**kw)
    np.testing.assert_array_equal(a.X, b.X)
    assert a.X.dtype == np.float32 and a.layers["counts"].dtype == np.float32
    assert {"group", "pool", "efficiency", "status"} <= set(a.obs.columns)
    sizes = a.obs["group"].value_counts()
    assert sizes.between(50, 80).all() and len(sizes) == 6
    truth = a.uns["cohort"]
    assert list(truth["mt_genes"]) == [g for g in a.var_names if g.startswith("MT-")]
    assert len(truth["mt_genes"]) == 13
    assert a.obs.groupby("group", observed=True)["efficiency"].nunique().eq(1).all()
    assert set(a.obs["status"]) == {"case", "control"}
    with pytest.raises(ValueError, match="n_groups must be >= 4"):
        cohort(n_groups=3)
    with pytest.raises(ValueError, match="n_genes=20"):
        cohort(n_genes=20)


def test_cohort_plants_coexpression_not_mean():
    # Ground truth in the data itself: within-MT correlation falls with efficiency,
    # MT mean expression does not, the mean-shift module's mean rises.
    adata = cohort(n_groups=10, cells_per_group=(600, 700), seed=2)
    eff = co.group_phenotype(adata, "group", "efficiency")
    mt = adata.var["is_mt"].to_numpy()
    corr = {}
    for group, rows in adata.obs.groupby("group", observed=True).indices.items():
        c = np.corrcoef(adata.X[rows][:, mt].T)
        corr[group] = c[np.triu_indices_from(c, 1)].mean()
    corr = pd.Series(corr)
    assert stats.spearmanr(corr, eff[corr.index]).statistic < -0.8
    means = co.group_mean_expression(adata, "group")
    assoc = co.phenotype_association(means, eff)
    assert abs(np.median(assoc["rho"][mt])) < 0.3
    shift = adata.var_names[adata.var["module"] == adata.uns["cohort"]["mean_shift_module"]]
    assert np.median(assoc.loc[shift, "rho"]) > 0.6


# --------------------------------------------------------------------------- validation
def _toy_bins(n_groups, rng):
    genes = [f"G{i}" for i in range(20)]
    emb, cent, owner = {}, {}, {}
    for g in range(n_groups):
        name = f"grp{g}_bin0"
        emb[name] = pd.DataFrame(rng.normal(size=(20, 3)), index=genes)
        cent[name] = pd.Series(rng.normal(size=20), index=genes)
        owner[name] = f"grp{g}"
    return emb, cent, owner


def test_run_cohort_analysis_rejects_small_or_constant(caplog):
    rng = np.random.default_rng(9)
    emb, cent, owner = _toy_bins(3, rng)
    pheno = pd.Series([0.1, 0.5, 0.9, 0.3], index=["grp0", "grp1", "grp2", "grp3"])
    with caplog.at_level(logging.WARNING):
        with pytest.raises(ValueError, match="at least 4 groups"):
            co.run_cohort_analysis(emb, cent, owner, pheno)
    assert "grp3" in caplog.text  # the group without bins is named in the log
    emb, cent, owner = _toy_bins(5, rng)
    with pytest.raises(ValueError, match="constant"):
        co.run_cohort_analysis(
            emb, cent, owner, pd.Series(1.0, index=[f"grp{g}" for g in range(5)])
        )
    bad = dict(cent)
    bad["grp0_bin0"] = bad["grp0_bin0"].iloc[::-1]
    with pytest.raises(ValueError, match="same genes in the same order"):
        co.run_cohort_analysis(
            emb, bad, owner, pd.Series(np.arange(5.0), index=[f"grp{g}" for g in range(5)])
        )
