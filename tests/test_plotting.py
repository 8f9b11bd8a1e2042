"""Every figure panel: writes a valid PNG + PDF from small synthetic tables, and a
missing column / key raises a ValueError that names the table and the column."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu, spearmanr
from sivae import plotting
from sivae.plotting import _style
from sivae.plotting._fig6 import group_embedding_stats, mt_complex, select_edges
from sivae.plotting._supp import _global_steps
from sivae.plotting._utils import pairwise_matrix

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RNG_SEED = 0


# ----------------------------------------------------------------------------- synthetic data
def _embeddings(rng):
    rows = []
    for variant in ("VAE", "siVAE_gamma0", "siVAE", "VAE_linear"):
        for c in range(120):
            label = f"type {c % 5}"
            centre = np.array([c % 5, (c % 5) ** 0.5]) * 3
            x, y = centre + rng.normal(size=2)
            rows.append((variant, f"c{c}", label, f"b{c % 2}", x, y))
    return pd.DataFrame(rows, columns=["variant", "cell", "label", "batch", "dim1", "dim2"])


def _knn(rng):
    rows = [
        (v, k, f, rng.uniform(0.4, 0.7))
        for v in ("VAE", "siVAE", "siVAE_gamma0", "VAE_linear", "PCA")
        for k in (15,)
        for f in range(5)
    ]
    return pd.DataFrame(rows, columns=["variant", "k", "fold", "accuracy"])


def _agreement(rng):
    methods = ["siVAE", "saliency", "grad_x_input", "deeplift", "gene_relevance"]
    rows = [(a, b, rng.uniform(-0.2, 1.0)) for i, a in enumerate(methods) for b in methods[i + 1 :]]
    return pd.DataFrame(rows, columns=["method_a", "method_b", "median_spearman"])


def _timing(rng):
    rows = []
    F0, K0, n = 2000, 20, 5000
    for K in (20, 64, 128, 256, 512):
        rows.append(("siVAE", "train", K, F0, n, 100 + 2 * K, False, "cpu"))
        rows.append(("VAE", "train", K, F0, n, 80 + K, False, "cpu"))
        rows.append(("saliency", "forward", K, F0, n, 5 * K, K > 128, "cpu"))
        rows.append(("saliency", "reverse", K, F0, n, 0.5 * F0, K > 128, "cpu"))
        rows.append(("deeplift", "", K, F0, n, 3 * F0, True, "cpu"))
    for F in (4000, 8000, 16000):
        rows.append(("siVAE", "train", K0, F, n, 100 + F / 100, False, "cpu"))
        rows.append(("saliency", "reverse", K0, F, n, 0.5 * F, F > 8000, "cpu"))
        rows.append(("deeplift", "", K0, F, n, 3 * F, True, "cpu"))
    cols = ["method", "mode", "K", "F", "n_cells", "seconds", "extrapolated", "device"]
    return pd.DataFrame(rows, columns=cols)


def _centrality(rng):
    true = rng.gamma(2.0, 0.02, size=80)
    rows = []
    for method, noise in (("siVAE", 0.002), ("CLR", 0.05), ("MRNET", 0.05), ("ARACNE", 0.1)):
        pred = true + rng.normal(scale=noise, size=true.size)
        rows += [(method, f"g{i}", p, t) for i, (p, t) in enumerate(zip(pred, true, strict=True))]
    return pd.DataFrame(rows, columns=["method", "gene", "centrality", "true_centrality"])


def _neighbour_accuracy(rng):
    rows = [
        (m, f"g{i}", rng.uniform(0.6, 0.9))
        for m in ("siVAE", "VAE", "VAE_linear", "CLR", "ARACNE", "siVAE-GCN-CLR")
        for i in range(30)
    ]
    return pd.DataFrame(rows, columns=["method", "gene", "variance_explained"])


def _method_pairs(rng, column):
    methods = ["siVAE", "VAE", "siVAE-Euc", "CLR", "ARACNE", "MRNET", "GRNBoost2", "siVAE-GCN-CLR"]
    rows = [(a, b, rng.uniform(0, 1)) for i, a in enumerate(methods) for b in methods[i + 1 :]]
    return pd.DataFrame(rows, columns=["method_a", "method_b", column])


def _group_embedding(rng, binary):
    n = 24
    phenotype = np.repeat([0, 1], n // 2) if binary else rng.uniform(0, 1, n)
    pc1 = phenotype * 2 + rng.normal(scale=0.5, size=n)
    return pd.DataFrame(
        {
            "group": [f"line{i}" for i in range(n)],
            "PC1": pc1,
            "PC2": rng.normal(size=n),
            "phenotype": phenotype,
        }
    )


def _centrality_phenotype(rng):
    genes = ["MT-ND1", "MT-ND4", "MT-CO1", "MT-CO3", "MT-CYB", "MT-ATP6"] + [
        f"GENE{i}" for i in range(40)
    ]
    rho = rng.uniform(-0.8, 0.8, len(genes))
    p = 10 ** rng.uniform(-6, 0, len(genes))
    return pd.DataFrame(
        {
            "gene": genes,
            "rho": rho,
            "p": p,
            "q": np.minimum(p * 5, 1),
            "mean_rho": rng.uniform(-0.3, 0.3, len(genes)),
            "mean_p": rng.uniform(0, 1, len(genes)),
            "mean_q": rng.uniform(0, 1, len(genes)),
        }
    )


def _edges(rng):
    genes = ["MT-ND1", "MT-ND4", "MT-CO1", "MT-CO3", "MT-CYB", "UBB", "SNCA", "APP", "GAPDH"]
    rows = []
    for i, a in enumerate(genes):
        for b in genes[i + 1 :]:
            fc, fn = rng.uniform(0, 1, 2)
            rows.append((a, b, fc - fn, rng.uniform(0, 0.1), rng.uniform(0, 0.1), fc, fn))
    cols = ["gene_a", "gene_b", "statistic", "p", "q", "frac_case", "frac_control"]
    return pd.DataFrame(rows, columns=cols)


def _gamma_sweep(rng):
    rows = [
        (g, f, 0.6 - 0.02 * np.log1p(g) + rng.normal(scale=0.01))
        for g in (0, 0.01, 0.05, 1, 10, 100)
        for f in range(3)
    ]
    return pd.DataFrame(rows, columns=["gamma", "fold", "accuracy"])


def _feature_input(rng):
    rows = [
        (mode, metric, rng.uniform(0.2, 0.8))
        for mode in ("subsample", "pca", "full")
        for metric in ("knn_accuracy", "loadings_spearman_vs_full", "seconds")
        for _ in range(2)
    ]
    return pd.DataFrame(rows, columns=["mode", "metric", "value"])


def _history(rng, with_feature=True):
    rows = []
    for stage, n_steps in (("cell", 30), ("feature", 20), ("joint", 30)):
        for step in range(n_steps):  # steps restart per stage
            loss = 10 * np.exp(-step / 10) + rng.normal(scale=0.1)
            rows.append(
                (
                    stage,
                    step // 10,
                    step,
                    loss + 1,
                    loss,
                    0.5,
                    0.2 if with_feature else np.nan,
                    0.1 if with_feature else np.nan,
                )
            )
    cols = [
        "stage",
        "epoch",
        "step",
        "total",
        "reconstruction",
        "kl_cell",
        "kl_feature",
        "interpretability",
    ]
    return pd.DataFrame(rows, columns=cols)


@pytest.fixture(scope="module")
def toy_adata():
    """8-gene toy output: genes 1-4 co-regulated (large dim-1 loadings), 5-8 near the origin."""
    rng = np.random.default_rng(RNG_SEED)
    z = rng.normal(size=(150, 2))
    loadings = np.vstack(
        [
            np.column_stack([rng.uniform(1, 2, 4), rng.normal(scale=0.1, size=4)]),
            rng.normal(scale=0.05, size=(4, 2)),
        ]
    )
    x = z @ loadings.T + rng.normal(scale=0.3, size=(150, 8))
    adata = ad.AnnData(x.astype(np.float32))
    adata.var_names = [f"gene{i + 1}" for i in range(8)]
    adata.obs["label"] = pd.Categorical([f"t{i % 3}" for i in range(150)])
    adata.obs["batch"] = pd.Categorical([f"b{i % 2}" for i in range(150)])
    adata.obsm["X_sivae"] = z
    adata.obsm["X_pca"] = x[:, :4]
    adata.varm["sivae_loadings"] = loadings
    adata.var["module"] = ["co-regulated"] * 4 + ["independent"] * 4
    adata.var["reconstruction_error"] = 1.0 / (0.2 + np.linalg.norm(loadings, axis=1))
    return adata


@pytest.fixture(scope="module")
def hub_adata():
    rng = np.random.default_rng(RNG_SEED)
    community = np.repeat([0, 1, 2, -1], 20)
    centres = {0: (3, 0), 1: (-2, 2), 2: (-2, -2), -1: (0, 0)}
    v = np.array([centres[c] for c in community]) + rng.normal(scale=0.4, size=(80, 2))
    adata = ad.AnnData(rng.normal(size=(30, 80)).astype(np.float32))
    adata.var_names = [f"g{i}" for i in range(80)]
    adata.varm["sivae_loadings"] = v
    adata.var["community"] = community
    adata.var["is_hub"] = np.isin(np.arange(80), [0, 20, 40])
    adata.var["reconstruction_error"] = rng.uniform(0, 1, 80)
    adata.obsm["X_sivae"] = rng.normal(size=(30, 2))
    adata.obs["cell_type"] = [f"type{i % 4}" for i in range(30)]
    return adata


# ----------------------------------------------------------------------------- panel cases
# (panel, data builder (rng, toy, hub) -> positional data args, kwargs, arg index to break, what)
# `what` is either a table column to drop or ("obsm"|"varm"|"var"|"obs", key) to remove.
CASES = [
    ("fig1b", lambda r, t, h: [t], {}, 0, ("obsm", "X_sivae")),
    ("fig1c", lambda r, t, h: [t], {}, 0, ("obsm", "X_sivae")),
    ("fig1d", lambda r, t, h: [t], {}, 0, ("var", "module")),
    ("fig2a", lambda r, t, h: [_embeddings(r)], {}, 0, "label"),
    ("fig2b", lambda r, t, h: [_knn(r)], {}, 0, "accuracy"),
    ("fig3a", lambda r, t, h: [_agreement(r)], {}, 0, "median_spearman"),
    ("fig3b", lambda r, t, h: [_timing(r)], {}, 0, "extrapolated"),
    ("fig3c", lambda r, t, h: [_timing(r)], {}, 0, "seconds"),
    ("fig3d", lambda r, t, h: [_timing(r)], {}, 0, "device"),
    ("fig4b", lambda r, t, h: [h], {}, 0, ("var", "is_hub")),
    ("fig4c", lambda r, t, h: [h], {"label_key": "cell_type"}, 0, ("obs", "cell_type")),
    (
        "fig4d",
        lambda r, t, h: [h],
        {"markers": {"A": ["g1", "g2", "g3", "absent"], "B": ["g21", "g22"], "C": ["g45"]}},
        0,
        ("varm", "sivae_loadings"),
    ),
    ("fig5a", lambda r, t, h: [_centrality(r)], {}, 0, "true_centrality"),
    ("fig5b", lambda r, t, h: [_centrality(r)], {"top_n": 10}, 0, "centrality"),
    ("fig5c", lambda r, t, h: [_neighbour_accuracy(r)], {}, 0, "variance_explained"),
    ("fig5d", lambda r, t, h: [_method_pairs(r, "jaccard")], {}, 0, "jaccard"),
    ("fig5e", lambda r, t, h: [_method_pairs(r, "mean_correlation")], {}, 0, "method_b"),
    ("fig6b", lambda r, t, h: [_group_embedding(r, False)], {}, 0, "phenotype"),
    ("fig6e", lambda r, t, h: [_group_embedding(r, True)], {}, 0, "PC1"),
    ("fig6c", lambda r, t, h: [_centrality_phenotype(r)], {"top_n": 20}, 0, "q"),
    (
        "fig6d",
        lambda r, t, h: [_edges(r)],
        {"genes": ["MT-ND1", "MT-ND4", "MT-CO1", "MT-CO3", "MT-CYB"]},
        0,
        "frac_case",
    ),
    ("fig6f", lambda r, t, h: [_edges(r)], {"genes": ["UBB", "SNCA", "APP"]}, 0, "gene_b"),
    (
        "figS5",
        lambda r, t, h: [_gamma_sweep(r)],
        {"references": {"siVAE_linear": 0.5, "VAE": 0.62}},
        0,
        "gamma",
    ),
    ("figS11", lambda r, t, h: [h], {}, 0, ("var", "reconstruction_error")),
    ("figS24", lambda r, t, h: [_feature_input(r)], {}, 0, "mode"),
]

TABLE_NAMES = {
    "fig2a": "embeddings.tsv",
    "fig2b": "knn_accuracy.tsv",
    "fig3a": "agreement.tsv",
    "fig3b": "timing.tsv",
    "fig3c": "timing.tsv",
    "fig3d": "timing.tsv",
    "fig5a": "centrality.tsv",
    "fig5b": "centrality.tsv",
    "fig5c": "neighbour_accuracy.tsv",
    "fig5d": "jaccard.tsv",
    "fig5e": "mean_correlation.tsv",
    "fig6b": "group_embedding.tsv",
    "fig6e": "group_embedding.tsv",
    "fig6c": "centrality_phenotype.tsv",
    "fig6d": "edges.tsv",
    "fig6f": "edges.tsv",
    "figS5": "gamma_sweep.tsv",
    "figS24": "feature_input.tsv",
}


def _assert_valid_outputs(path_png):
    assert path_png.read_bytes()[:8] == PNG_MAGIC
    pdf = path_png.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert path_png.stat().st_size > 5000  # not a blank canvas


def _drop(data, what):
    if isinstance(what, str):
        return data.drop(columns=[what])
    slot, key = what
    data = data.copy()
    container = getattr(data, slot)
    if slot in ("var", "obs"):
        del container[key]
    else:
        del container[key]
    return data


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_panel_writes_png_pdf_and_rejects_missing_column(case, tmp_path, toy_adata, hub_adata):
    panel, build, kwargs, index, what = case
    function = plotting.PANELS[panel]
    args = build(np.random.default_rng(RNG_SEED), toy_adata, hub_adata)
    path = tmp_path / f"{panel}.png"
    fig = function(*args, path, **kwargs)
    assert fig.axes, "figure has no axes"
    _assert_valid_outputs(path)

    broken = list(args)
    broken[index] = _drop(args[index], what)
    key = what if isinstance(what, str) else what[1]
    with pytest.raises(ValueError, match=key) as info:
        function(*broken, tmp_path / f"{panel}_broken.png", **kwargs)
    if panel in TABLE_NAMES:
        assert TABLE_NAMES[panel] in str(info.value)


def test_fig2cd_layouts_leave_adata_alone(tmp_path, toy_adata):
    path = tmp_path / "fig2cd.png"
    before = toy_adata.copy()
    fig = plotting.plot_fig2cd(
        toy_adata,
        path,
        label_key="label",
        batch_key="batch",
        uncorrected_rep="X_pca",
        uncorrected_method="none",  # UMAP / t-SNE layouts: the slow test below
        corrected_method="none",
    )
    _assert_valid_outputs(path)
    assert len(fig.axes) == 4
    # the input AnnData is left alone (no neighbours / embeddings written into it)
    assert set(toy_adata.obsm) == set(before.obsm) and set(toy_adata.uns) == set(before.uns)
    with pytest.raises(ValueError, match="batch_missing"):
        plotting.plot_fig2cd(toy_adata, path, label_key="label", batch_key="batch_missing")
    with pytest.raises(ValueError, match="X_absent"):
        plotting.plot_fig2cd(
            toy_adata, path, "label", "batch", corrected_rep="X_absent", corrected_method="none"
        )
    with pytest.raises(ValueError, match="method"):
        plotting.plot_fig2cd(toy_adata, path, "label", "batch", corrected_method="pca")


@pytest.mark.slow
def test_fig2cd_default_umap_then_tsne(tmp_path, toy_adata):
    # slow: numba compiles UMAP's kernels (~30 s CPU) in a fresh process, then t-SNE runs
    path = tmp_path / "fig2cd_umap.png"
    plotting.plot_fig2cd(toy_adata, path, label_key="label", batch_key="batch")
    _assert_valid_outputs(path)


def test_figS25_history_tables(tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    histories = {"siVAE": _history(rng), "VAE": _history(rng, with_feature=False)}
    path = tmp_path / "figS25.png"
    plotting.plot_figS25(histories, path)
    _assert_valid_outputs(path)
    # the same, given one long table with a model column
    long = pd.concat([h.assign(model=m) for m, h in histories.items()])
    plotting.plot_figS25(long, tmp_path / "figS25_long.png")
    _assert_valid_outputs(tmp_path / "figS25_long.png")
    with pytest.raises(ValueError, match="kl_cell"):
        plotting.plot_figS25({"siVAE": histories["siVAE"].drop(columns="kl_cell")}, path)


# ----------------------------------------------------------------------------- behaviour
def test_method_colors_cover_every_method_and_are_distinct():
    required = [
        "siVAE",
        "siVAE_gamma0",
        "siVAE_linear",
        "siVAE_NB",
        "VAE",
        "VAE_linear",
        "PCA",
        "CLR",
        "ARACNE",
        "MRNET",
        "GRNBoost2",
        "siVAE-Euc",
        "saliency",
        "grad_x_input",
        "deeplift",
        "integrated_gradients",
        "shapley",
        "jacobian_forward",
        "gene_relevance",
    ]
    assert set(required) <= set(_style.METHOD_COLORS)
    colours = [c.lower() for c in _style.METHOD_COLORS.values()]
    assert len(set(colours)) == len(colours)
    assert _style.method_label("VAE_linear") == "VAE-linear (LDVAE-like)"
    # any siVAE-GCN-* variant gets a fixed colour, unknown methods a stable one
    assert _style.method_color("siVAE-GCN-foo") == _style.METHOD_COLORS["siVAE-GCN-CLR"]
    assert _style.method_color("new_method") == _style.method_color("new_method")


def test_centrality_summaries_match_scipy_and_sorting():
    rng = np.random.default_rng(RNG_SEED)
    table = _centrality(rng)
    rho = plotting.centrality_spearman(table)
    for method, rows in table.groupby("method"):
        expected = spearmanr(rows["centrality"], rows["true_centrality"]).statistic
        assert rho[method] == pytest.approx(expected, abs=1e-12)
    # the least noisy method recovers the ranking best
    assert rho.idxmax() == "siVAE"
    top = plotting.top_hub_true_centrality(table, top_n=7)
    rows = table[table["method"] == "CLR"]
    manual = rows.sort_values("centrality", ascending=False)["true_centrality"].iloc[:7].mean()
    assert top["CLR"] == pytest.approx(manual)


def test_pairwise_matrix_symmetric_with_diagonal():
    table = pd.DataFrame(
        {"method_a": ["A", "A", "C"], "method_b": ["B", "C", "B"], "v": [0.1, 0.2, 0.3]}
    )
    m = pairwise_matrix(table, "method_a", "method_b", "v", diagonal=1.0)
    np.testing.assert_allclose(m.to_numpy(), m.to_numpy().T)
    assert m.loc["B", "A"] == 0.1 and m.loc["B", "C"] == 0.3
    np.testing.assert_allclose(np.diag(m.to_numpy()), 1.0)


def test_group_embedding_stats_match_scipy():
    rng = np.random.default_rng(RNG_SEED)
    binary = _group_embedding(rng, True)
    stats = group_embedding_stats(binary)
    expected = mannwhitneyu(
        binary.loc[binary["phenotype"] == 0, "PC1"], binary.loc[binary["phenotype"] == 1, "PC1"]
    )
    assert stats["test"] == "Mann-Whitney U" and stats["p"] == pytest.approx(expected.pvalue)
    continuous = _group_embedding(rng, False)
    stats = group_embedding_stats(continuous)
    assert stats["statistic"] == pytest.approx(
        spearmanr(continuous["PC1"], continuous["phenotype"]).statistic
    )


def test_mt_complexes_and_edge_selection():
    assert mt_complex("MT-ND4L") == "NADH dehydrogenase (I)"
    assert mt_complex("MT-CO2") == "cytochrome c oxidase (IV)"
    assert mt_complex("mt-cyb") == "cytochrome b (III)"
    assert mt_complex("GAPDH") is None
    edges = _edges(np.random.default_rng(RNG_SEED))
    chosen = select_edges(edges, genes=["UBB"], q_threshold=0.05, min_frac=0.2)
    assert ((chosen["gene_a"] == "UBB") | (chosen["gene_b"] == "UBB")).all()
    assert (chosen["q"] < 0.05).all()
    assert (chosen[["frac_case", "frac_control"]].max(axis=1) >= 0.2).all()


def test_global_steps_continue_across_stages():
    history = _history(np.random.default_rng(RNG_SEED))
    steps = _global_steps(history)["global_step"].to_numpy()
    assert np.all(np.diff(steps) > 0)
    assert steps[-1] == len(history) - 1


def test_fig5c_rejects_percent_values(tmp_path):
    table = _neighbour_accuracy(np.random.default_rng(RNG_SEED))
    table["variance_explained"] *= 100
    with pytest.raises(ValueError, match="fraction"):
        plotting.plot_fig5c(table, tmp_path / "x.png")


def test_bad_path_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        plotting.plot_fig2b(_knn(np.random.default_rng(RNG_SEED)), tmp_path / "x.svg")


def test_figures_table_computes_ours_for_every_headline_panel():
    from sivae.plotting._table import HEADLINE_FUNCTIONS

    rng = np.random.default_rng(RNG_SEED)
    tables = {
        "knn_accuracy": _knn(rng),
        "agreement": _agreement(rng),
        "timing": _timing(rng),
        "centrality": _centrality(rng),
        "neighbour_accuracy": _neighbour_accuracy(rng),
        "jaccard": _method_pairs(rng, "jaccard"),
        "mean_correlation": _method_pairs(rng, "mean_correlation"),
        "group_embedding": _group_embedding(rng, True),
        "centrality_phenotype": _centrality_phenotype(rng),
        "edges": _edges(rng),
        "gamma_sweep": _gamma_sweep(rng),
        "feature_input": _feature_input(rng),
    }
    rows = [
        {"panel": panel, "dataset": "synthetic", "files": [f"{panel}.png"], "tables": tables}
        for panel in [*HEADLINE_FUNCTIONS, "fig1b"]
    ]
    out = plotting.figures_table(rows).set_index("panel")
    assert set(out.index) == {*HEADLINE_FUNCTIONS, "fig1b"}
    assert (out.loc[list(HEADLINE_FUNCTIONS), "ours"].str.len() > 0).all()
    assert (out["paper"].str.len() > 0).all()
    expected = plotting.top_hub_true_centrality(tables["centrality"], 20)["siVAE"]
    assert f"siVAE {expected:.3f}" in out.loc["fig5b", "ours"]
    # reverse-mode saliency time does not depend on K in the synthetic table: slope exactly 0
    assert "saliency (reverse) 0," in out.loc["fig3c", "ours"]
    n_significant = int((tables["centrality_phenotype"]["q"] < 0.05).sum())
    assert out.loc["fig6c", "ours"].startswith(f"{n_significant} genes")


# ----------------------------------------------------------------------------- layout defects
def _renderer(fig):
    """Draw ``fig`` on an Agg canvas (as savefig does) and return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _overlap(a, b) -> bool:
    """Whether two display-space bounding boxes share area (touching edges do not count)."""
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_method_variants_share_base_colour_label_and_order():
    # the ids that agreement.tsv and timing.tsv of a real run use
    assert plotting.parse_method("VAE+grad_x_input_forward") == (
        "grad_x_input",
        {"model": "VAE", "mode": "forward"},
    )
    assert plotting.parse_method("gene_relevance_k5") == ("gene_relevance", {"k": 5})
    assert plotting.method_base("VAE+jacobian") == "jacobian_forward"
    assert plotting.method_base("jacobian_forward") == "jacobian_forward"
    for variant, base in [
        ("grad_x_input_forward", "grad_x_input"),
        ("saliency_reverse", "saliency"),
        ("gene_relevance_k5", "gene_relevance"),
        ("VAE+deeplift", "deeplift"),
        ("VAE+saliency", "saliency"),
    ]:
        assert plotting.method_color(variant) == _style.METHOD_COLORS[base]
    assert plotting.method_label("grad_x_input_forward") == "grad × input (forward)"
    assert plotting.method_label("gene_relevance_k5") == "Gene Relevance (k=5)"
    assert plotting.method_label("VAE+deeplift") == "VAE+DeepLIFT"
    assert plotting.method_label("siVAE") == "siVAE"
    assert _style.method_mode_label("VAE+jacobian", "forward") == "VAE+Jacobian (forward mode)"
    assert _style.method_mode_label("VAE+saliency", "reverse") == "VAE+saliency (reverse)"
    # a variant sits next to its base method, unknown names last
    order = _style.method_order(["zzz", "gene_relevance_k5", "VAE+saliency", "deeplift", "siVAE"])
    assert order == ["siVAE", "VAE+saliency", "deeplift", "gene_relevance_k5", "zzz"]


@pytest.mark.parametrize(
    ("values", "case_label", "case"),
    [
        (["control", "case"], None, "case"),  # sorted order would make "case" the first colour
        (["no dementia", "dementia"], None, "dementia"),
        (["negative", "positive"], None, "positive"),
        ([0, 1], None, "1"),
        (["healthy", "AD"], None, "AD"),  # only the control is a known word
        (["lineA", "lineB"], "lineA", "lineA"),
    ],
)
def test_fig6b_binary_case_gets_the_case_colour_of_fig6d(values, case_label, case, tmp_path):
    from matplotlib.colors import to_hex
    from sivae.plotting._fig6 import CASE_COLOR, CONTROL_COLOR

    table = pd.DataFrame(
        {
            "group": [f"g{i}" for i in range(6)],
            "PC1": np.arange(6.0),
            "PC2": np.zeros(6),
            "phenotype": [values[i % 2] for i in range(6)],
        }
    )
    fig = plotting.plot_fig6b(table, tmp_path / "b.png", case_label=case_label)
    expected = {
        float(x): CASE_COLOR if str(v) == case else CONTROL_COLOR
        for x, v in zip(table["PC1"], table["phenotype"], strict=True)
    }
    seen = 0
    for collection in fig.axes[0].collections:
        colour = to_hex(collection.get_facecolors()[0])
        for x, _ in collection.get_offsets():
            assert colour == expected[float(x)]
            seen += 1
    assert seen == len(table)
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {str(v) for v in values}


def test_fig6b_rejects_unknown_case_label(tmp_path):
    table = _group_embedding(np.random.default_rng(RNG_SEED), True)
    with pytest.raises(ValueError, match="case_label 'sick'"):
        plotting.plot_fig6b(table, tmp_path / "b.png", case_label="sick")


def test_fig6d_no_edge_message_clear_of_ring_labels(tmp_path):
    edges = _edges(np.random.default_rng(RNG_SEED)).assign(q=1.0)  # nothing significant
    genes = [f"MT-ND{i}" for i in range(1, 7)] + ["MT-CO1", "MT-CO2", "MT-CYB", "MT-ATP6"]
    fig = plotting.plot_fig6d(edges, tmp_path / "d.png", genes=genes)
    renderer = _renderer(fig)
    texts = fig.axes[0].texts
    message = [t for t in texts if t.get_text().startswith("no edge")]
    assert len(message) == 1
    box = message[0].get_window_extent(renderer)
    labels = [t.get_window_extent(renderer) for t in texts if t.get_text() in genes]
    assert len(labels) == len(genes)
    assert not any(_overlap(box, label) for label in labels)


def test_fig4d_colours_follow_fig4c_label_order_and_title_clears_legend(tmp_path, hub_adata):
    from matplotlib.colors import to_hex

    markers = {"type3": ["g40", "g41"], "type10": ["g1"], "type2": ["g20", "g21"]}
    forward = plotting.plot_fig4d(hub_adata, tmp_path / "a.png", markers=markers)
    backward = plotting.plot_fig4d(
        hub_adata, tmp_path / "b.png", markers=dict(reversed(list(markers.items())))
    )

    def colours(fig):
        legend = fig.legends[0]
        return {
            t.get_text().split(" (")[0]: to_hex(h.get_color())
            for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)
        }

    assert colours(forward) == colours(backward)
    assert list(colours(forward)) == ["type2", "type3", "type10"]  # natural sort
    assert colours(forward) == plotting.category_colors(["type2", "type3", "type10"])
    # with label_key the colours are exactly those of Fig. 4c
    fig4c = plotting.plot_fig4c(hub_adata, tmp_path / "c.png", label_key="cell_type")
    with_key = plotting.plot_fig4d(
        hub_adata, tmp_path / "d.png", markers={"type3": ["g40"]}, label_key="cell_type"
    )
    assert colours(with_key)["type3"] == colours(fig4c)["type3"]
    for fig in (forward, fig4c):
        renderer = _renderer(fig)
        legend = fig.legends[0].get_window_extent(renderer)
        title = fig.axes[0].title.get_window_extent(renderer)
        assert not _overlap(title, legend)
        assert legend.x1 <= fig.bbox.x1 + 1  # long labels stay on the canvas


def test_fig4d_rejects_marker_type_not_in_labels(tmp_path, hub_adata):
    with pytest.raises(ValueError, match="not values of obs"):
        plotting.plot_fig4d(
            hub_adata, tmp_path / "x.png", markers={"typeX": ["g1"]}, label_key="cell_type"
        )


def test_figS5_zero_tick_clear_of_first_decade(tmp_path):
    sweep = pd.DataFrame(
        {"gamma": [0, 0.01, 0.1, 1, 10, 100], "fold": 0, "accuracy": np.linspace(0.5, 0.6, 6)}
    )
    fig = plotting.plot_figS5(sweep, tmp_path / "s5.png")
    renderer = _renderer(fig)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    assert [t.get_text() for t in ticks][:2] == ["0", "$10^{-2}$"]
    assert ax.xaxis.get_ticklocs().tolist() == [0.0, 0.01, 0.1, 1.0, 10.0, 100.0]
    boxes = sorted((t.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0)
    assert all(not _overlap(a, b) for a, b in zip(boxes, boxes[1:], strict=False))
    # every γ, 0 included, is on the axis
    lo, hi = ax.get_xlim()
    assert lo < 0 < 100 < hi


@pytest.mark.parametrize("panel", ["fig3c", "fig3d"])
def test_fig3_count_axes_have_integer_ticks(panel, tmp_path):
    timing = _timing(np.random.default_rng(RNG_SEED))
    timing = timing[timing["K"].isin([20, 21, 22]) | (timing["F"] != 2000)]
    timing = pd.concat([timing, timing.assign(K=21, seconds=timing["seconds"] + 1)])
    fig = plotting.PANELS[panel](timing, tmp_path / f"{panel}.png")
    locs = fig.axes[0].get_xticks()
    lo, hi = fig.axes[0].get_xlim()
    shown = locs[(locs >= lo) & (locs <= hi)]
    assert len(shown) >= 2
    np.testing.assert_array_equal(shown, np.round(shown))
