"""The paper-versus-ours table: one row per panel with the paper's headline and ours."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._fig2 import knn_summary
from ._fig3 import _timing, largest_setting
from ._fig5 import centrality_spearman, neighbour_medians, top_hub_true_centrality
from ._fig6 import group_embedding_stats, mt_complex, select_edges
from ._style import (
    ATTRIBUTION_METHODS,
    DR_METHODS,
    GCN_METHODS,
    method_base,
    method_label,
    method_mode_label,
)
from ._utils import pairwise_matrix, require_columns

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400.0

#: Headline numbers or claims of the paper's text (Results), by panel.
PAPER_HEADLINES: dict[str, str] = {
    "fig1b": "cells spread along both dims (toy 8-gene data; qualitative)",
    "fig1c": "gene 1 increases left to right along dim 1 (qualitative)",
    "fig1d": "genes 1-4 large loadings on dim 1; genes 5-8 at the origin (qualitative)",
    "fig2a": "siVAE looks like the VAE; LDVAE mixes cell types (qualitative)",
    "fig2b": "siVAE competitive with VAE; LDVAE and scETM significantly lower; "
    "siVAE-NB and siVAE-linear below siVAE (k=80, fetal liver, no numbers in text)",
    "fig2cd": "batch clustering removed, cell-type clustering kept (NeurDiff; qualitative)",
    "fig3a": "siVAE vs DeepLIFT median Spearman 0.98; siVAE vs NN attribution 0.73; "
    "Gene Relevance vs NN attribution 0.11, vs siVAE 0.14",
    "fig3b": "siVAE 2.5 days on LargeBrainAtlas (1.3M cells, 27,998 genes), "
    "about half the fastest attribution method (forward-mode saliency)",
    "fig3c": "days per embedding dim: siVAE 0.0073; DeepLIFT 0.014, grad×input (reverse) 0.0053, "
    "saliency 0.0012; forward grad×input 0.18, saliency 0.17",
    "fig3d": "days per 10k features: siVAE 0.0027; DeepLIFT 2.9, grad×input 0.95, saliency 0.94; "
    "forward grad×input 5.3e-4, saliency 6.5e-4",
    "fig4b": "communities co-localise, hubs apart from their community, "
    "isolated genes near the origin (qualitative)",
    "fig4c": "cells of a type cluster (fetal liver; qualitative)",
    "fig4d": "meta-markers of the same cell type cluster (qualitative)",
    "fig5a": "siVAE Spearman 0.90 (P = 2.2e-16); other methods median 0.36",
    "fig5b": "mean true centrality of top-20 hubs: siVAE 0.092 vs GCN methods 0.074",
    "fig5c": "79.9% ± 0.84 variance explained (excl. LDVAE, ARACNE); LDVAE 77.2%, ARACNE 78.3%",
    "fig5d": "DR methods overlap with each other, GCN methods with each other, little between",
    "fig5e": "mean Pearson: GCN sets 0.67 (excl. ARACNE), NN-based sets 0.46, DR vs GCN 0.39",
    "fig6b": "cell lines separate by differentiation efficiency along PC1 (qualitative)",
    "fig6c": "125 genes significant; MT genes enriched (GSEA adj. P = 1.2e-5); "
    "10 MT genes median Spearman 0.53",
    "fig6d": "7 MT-MT edges correlated with efficiency, 6 between different complexes",
    "fig6e": "oligodendrocyte donors separate by dementia, Mann-Whitney P = 2.7e-6 "
    "(Vip neurons P = 9.2e-3)",
    "fig6f": "UBB edges drop from 10 (no dementia) to 3 (dementia) on average",
    "figS5": "accuracy interpolates smoothly from siVAE (γ=0) to siVAE-linear as γ goes 0 → 100",
    "figS11": "genes close to the origin have higher reconstruction error",
    "figS24": "—",
    "figS25": "—",
}


# ----------------------------------------------------------------------------- ours
def _fmt(x: float, digits: int = 2) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _knn(t):
    summary = knn_summary(t["knn_accuracy"])
    top_k = summary["k"].max()
    rows = summary[summary["k"] == top_k]
    parts = [
        f"{method_label(v)} {_fmt(m)}" for v, m in zip(rows["variant"], rows["mean"], strict=True)
    ]
    return f"k={top_k}: " + ", ".join(parts)


def _of_base(names, base: str) -> list[str]:
    """Table ids that are ``base`` or a variant of it (``gene_relevance_k5``)."""
    return [n for n in names if method_base(n) == base]


def _agreement(t):
    table = require_columns(
        t["agreement"], ["method_a", "method_b", "median_spearman"], "agreement.tsv"
    )
    m = pairwise_matrix(table, "method_a", "method_b", "median_spearman", diagonal=1.0)
    names = list(m.index)
    parts = []
    has_sivae = "siVAE" in names
    for deeplift in _of_base(names, "deeplift") if has_sivae else []:
        parts.append(f"siVAE vs {method_label(deeplift)} {_fmt(m.loc['siVAE', deeplift])}")
    attribution = [a for a in names if method_base(a) in ATTRIBUTION_METHODS]
    if has_sivae and attribution:
        parts.append(f"siVAE vs attribution median {_fmt(m.loc['siVAE', attribution].median())}")
    for relevance in _of_base(names, "gene_relevance"):
        text = f"{method_label(relevance)} vs"
        if attribution:
            text += f" attribution median {_fmt(m.loc[relevance, attribution].median())}"
        if has_sivae:
            text += ("," if attribution else "") + f" vs siVAE {_fmt(m.loc[relevance, 'siVAE'])}"
        parts.append(text)
    return "; ".join(parts) or "no siVAE / attribution pairs in table"


def _timing_total(t):
    """siVAE's time against VAE training + the fastest attribution (the paper's comparison).

    Uses ``total_seconds`` (VAE training + attribution) where timing.tsv gives it,
    else the attribution time alone (said so in the text).
    """
    totals = largest_setting(t["timing"])
    sivae = totals[totals["method"] == "siVAE"]
    attribution = totals[totals["method"].map(method_base).isin(ATTRIBUTION_METHODS)]
    parts = []
    if not sivae.empty:
        parts.append(f"siVAE {sivae['seconds'].sum() / SECONDS_PER_DAY:.3g} days")
    if not attribution.empty:
        with_training = attribution["total_seconds"].notna().all()
        cost = attribution["total_seconds" if with_training else "seconds"]
        fastest = attribution.loc[cost.idxmin()]
        extra = ", extrapolated" if fastest["extrapolated"] else ""
        what = "VAE training + fastest attribution" if with_training else "fastest attribution"
        parts.append(
            f"{what} {method_mode_label(fastest['method'], fastest['mode'])} "
            f"{cost[fastest.name] / SECONDS_PER_DAY:.3g} days{extra}"
        )
    first = totals.iloc[0]
    return (
        "; ".join(parts)
        + f" at K={first['K']}, F={first['F']}, {first['n_cells']} cells ({first['device']})"
    )


def _timing_slope(vary: str, fixed: str, per: float, unit: str):
    def summarise(t):
        timing = _timing(t["timing"])
        fixed_value = timing.groupby(fixed)[vary].nunique().idxmax()
        rows = timing[timing[fixed] == fixed_value]
        parts = []
        for (method, mode), line in rows.groupby(["method", "mode"], sort=False):
            line = line.groupby(vary)["seconds"].sum()
            if len(line) < 2:
                continue
            x, y = line.index.to_numpy(dtype=float), line.to_numpy(dtype=float)
            slope = np.polyfit(x, y, 1)[0]
            if abs(slope) * np.ptp(x) <= 1e-9 * np.abs(y).max():
                slope = 0.0  # flat line: least squares leaves ~1e-20 of rounding noise
            name = method_mode_label(method, mode)
            parts.append(f"{name} {slope * per / SECONDS_PER_DAY:.2g}")
        return f"days per {unit} ({fixed}={fixed_value}): " + ", ".join(parts)

    return summarise


def _centrality(t):
    rho = centrality_spearman(t["centrality"])
    others = rho.drop("siVAE", errors="ignore")
    return f"siVAE ρ = {_fmt(rho.get('siVAE', np.nan))}; other methods median ρ = {_fmt(others.median())}"


def _top_hubs(top_n: int):
    def summarise(t):
        means = top_hub_true_centrality(t["centrality"], top_n)
        gcn = means[means.index.isin(GCN_METHODS)]
        return (
            f"top-{top_n} mean true centrality: siVAE {_fmt(means.get('siVAE', np.nan), 3)}; "
            f"GCN methods mean {_fmt(gcn.mean(), 3)}"
        )

    return summarise


def _neighbours(t):
    medians = 100 * neighbour_medians(t["neighbour_accuracy"])
    core = medians.drop(["VAE_linear", "ARACNE"], errors="ignore")
    text = f"{_fmt(core.mean(), 1)}% ± {_fmt(core.std(), 2)} (per-method medians, excl. LDVAE-like, ARACNE)"
    for m in ("VAE_linear", "ARACNE"):
        if m in medians:
            text += f"; {method_label(m)} {_fmt(medians[m], 1)}%"
    return text


def _group_means(table_name: str, value: str, exclude_gcn=()):
    def summarise(t):
        table = require_columns(t[table_name], ["method_a", "method_b", value], f"{table_name}.tsv")
        m = pairwise_matrix(table, "method_a", "method_b", value)
        dr = [x for x in m.index if x in DR_METHODS]
        gcn = [x for x in m.index if x in GCN_METHODS and x not in exclude_gcn]

        def mean_off_diagonal(rows, cols):
            block = m.loc[rows, cols].to_numpy(dtype=float)
            if rows == cols:
                block = block[~np.eye(len(rows), dtype=bool)]
            if not np.isfinite(block).any():
                # e.g. a single DR method has no pair within its group: say so, not "nan"
                return "n/a (needs 2 methods)" if rows == cols else "n/a"
            return _fmt(float(np.nanmean(block)))

        gcn_note = f" (excl. {', '.join(exclude_gcn)})" if exclude_gcn else ""
        return (
            f"mean within DR {mean_off_diagonal(dr, dr)}, within GCN{gcn_note} "
            f"{mean_off_diagonal(gcn, gcn)}, DR vs GCN {mean_off_diagonal(dr, gcn)}"
        )

    return summarise


def _group_embedding(t):
    stats = group_embedding_stats(t["group_embedding"])
    if stats["test"] == "Spearman":
        return f"Spearman(PC1, phenotype) ρ = {_fmt(stats['statistic'])}, P = {stats['p']:.2g}"
    return f"PC1 by class, Mann-Whitney P = {stats['p']:.2g}"


def _centrality_phenotype(t, q_threshold=0.05):
    table = t["centrality_phenotype"]
    require_columns(table, ["gene", "rho", "q"], "centrality_phenotype.tsv")
    significant = table[table["q"] < q_threshold]
    mt = significant[significant["gene"].map(mt_complex).notna()]
    return (
        f"{len(significant)} genes with q < {q_threshold}; {len(mt)} MT genes among them, "
        f"median ρ {_fmt(mt['rho'].median())}"
    )


def _edges(min_frac):
    def summarise(t):
        chosen = select_edges(t["edges"], q_threshold=0.05, min_frac=min_frac)
        diff = chosen["frac_case"] - chosen["frac_control"]
        return (
            f"{len(chosen)} edges with q < 0.05: {(diff > 0).sum()} more frequent in cases, "
            f"{(diff < 0).sum()} in controls"
        )

    return summarise


def _gamma(t):
    table = require_columns(t["gamma_sweep"], ["gamma", "fold", "accuracy"], "gamma_sweep.tsv")
    means = table.groupby("gamma")["accuracy"].mean()
    return ", ".join(f"γ={g:g}: {_fmt(a)}" for g, a in means.items())


def _feature_input(t):
    table = require_columns(t["feature_input"], ["mode", "metric", "value"], "feature_input.tsv")
    means = table.groupby(["metric", "mode"], sort=False)["value"].mean()
    return "; ".join(f"{metric} {mode} {_fmt(v, 3)}" for (metric, mode), v in means.items())


#: panel -> (tables it needs, function of {name: DataFrame} -> str)
HEADLINE_FUNCTIONS: dict[str, tuple[tuple[str, ...], Callable[[dict], str]]] = {
    "fig2b": (("knn_accuracy",), _knn),
    "fig3a": (("agreement",), _agreement),
    "fig3b": (("timing",), _timing_total),
    "fig3c": (("timing",), _timing_slope("K", "F", 1.0, "embedding dim")),
    "fig3d": (("timing",), _timing_slope("F", "K", 1e4, "10k features")),
    "fig5a": (("centrality",), _centrality),
    "fig5b": (("centrality",), _top_hubs(20)),
    "fig5c": (("neighbour_accuracy",), _neighbours),
    "fig5d": (("jaccard",), _group_means("jaccard", "jaccard")),
    "fig5e": (
        ("mean_correlation",),
        _group_means("mean_correlation", "mean_correlation", exclude_gcn=("ARACNE",)),
    ),
    "fig6b": (("group_embedding",), _group_embedding),
    "fig6e": (("group_embedding",), _group_embedding),
    "fig6c": (("centrality_phenotype",), _centrality_phenotype),
    "fig6d": (("edges",), _edges(None)),
    "fig6f": (("edges",), _edges(0.2)),
    "figS5": (("gamma_sweep",), _gamma),
    "figS24": (("feature_input",), _feature_input),
}


# ----------------------------------------------------------------------------- table
def _load_tables(row: Mapping, files: list[str]) -> dict[str, pd.DataFrame]:
    """Tables of a row: ``row["tables"]`` if given, else the ``.tsv`` files by file stem."""
    if row.get("tables") is not None:
        return dict(row["tables"])
    tables = {}
    for file in files:
        path = Path(file)
        if path.suffix != ".tsv":
            continue
        if not path.exists():
            raise FileNotFoundError(f"panel {row['panel']}: table {path} does not exist")
        tables[path.stem] = pd.read_csv(path, sep="\t")
    return tables


def figures_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """One row per panel: the paper's headline next to ours, computed from the panel's tables.

    Parameters
    ----------
    rows
        Mappings with keys ``panel`` (e.g. ``"fig5a"``), ``dataset``, ``files``
        (path or list of paths: the PNG/PDF and the TSVs behind it) and optionally
        ``tables`` (``{stem: DataFrame}``, used instead of reading the TSVs) and ``note``.

    Returns
    -------
    DataFrame
        Columns panel, dataset, files (comma-separated), paper, ours, note.
        ``ours`` is empty where the paper gives only a qualitative claim.
    """
    out = []
    for row in rows:
        missing = [k for k in ("panel", "dataset", "files") if k not in row]
        if missing:
            raise ValueError(f"figures_table: row {dict(row)!r} lacks key(s) {missing}")
        panel = str(row["panel"])
        files = [row["files"]] if isinstance(row["files"], str | Path) else list(row["files"])
        files = [str(f) for f in files]
        notes = [str(row["note"])] if row.get("note") else []
        ours = ""
        if panel in HEADLINE_FUNCTIONS:
            needs, summarise = HEADLINE_FUNCTIONS[panel]
            tables = _load_tables(row, files)
            absent = [n for n in needs if n not in tables]
            if absent:
                logger.warning("panel %s: no %s table given; 'ours' left empty", panel, absent)
                notes.append(f"needs {', '.join(n + '.tsv' for n in absent)}")
            else:
                ours = summarise(tables)
        if panel not in PAPER_HEADLINES:
            logger.warning("panel %s has no entry in PAPER_HEADLINES", panel)
        out.append(
            {
                "panel": panel,
                "dataset": str(row["dataset"]),
                "files": ", ".join(files),
                "paper": PAPER_HEADLINES.get(panel, "—"),
                "ours": ours,
                "note": "; ".join(notes),
            }
        )
    return pd.DataFrame(out, columns=["panel", "dataset", "files", "paper", "ours", "note"])
