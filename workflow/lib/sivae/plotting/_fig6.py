"""Fig. 6: networks across cell populations (group embedding, centrality vs phenotype, edges)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from scipy.stats import mannwhitneyu, spearmanr

from ._style import NEUTRAL_GREY, category_colors
from ._utils import new_figure, outside_legend, require_columns, save_figure

logger = logging.getLogger(__name__)

#: Mitochondrially encoded genes by respiratory-chain complex (prefix after "MT-").
MT_COMPLEXES = (
    ("ND", "NADH dehydrogenase (I)", "#1b9e77"),
    ("CYB", "cytochrome b (III)", "#d95f02"),
    ("CO", "cytochrome c oxidase (IV)", "#7570b3"),
    ("ATP", "ATP synthase (V)", "#e7298a"),
)
OTHER_MT = ("other MT gene", "#66a61e")
CASE_COLOR = "#c0392b"
CONTROL_COLOR = "#2e6fb7"


def mt_complex(gene: str) -> str | None:
    """Complex name of a mitochondrially encoded gene (``MT-`` prefix), else None."""
    gene = str(gene).upper()
    if not gene.startswith("MT-"):
        return None
    for prefix, name, _ in MT_COMPLEXES:
        if gene[3:].startswith(prefix):
            return name
    return OTHER_MT[0]


_COMPLEX_COLORS = {name: colour for _, name, colour in MT_COMPLEXES} | {OTHER_MT[0]: OTHER_MT[1]}


# ----------------------------------------------------------------------------- 6b / 6e
_CASE_WORDS = frozenset(
    {"case", "cases", "true", "yes", "1", "1.0", "disease", "dementia", "positive", "high"}
)
_CONTROL_WORDS = frozenset(
    {"control", "controls", "false", "no", "0", "0.0", "healthy", "no dementia", "negative", "low"}
)


def _case_value(values: list[str], case_label, phenotype_name: str) -> str:
    """Which of the two phenotype values (as strings) is the case; see :func:`plot_fig6b`."""
    if case_label is not None:
        if str(case_label) not in values:
            raise ValueError(
                f"group_embedding.tsv: case_label {case_label!r} is not one of the "
                f"{phenotype_name} values {values}"
            )
        return str(case_label)
    cases = [v for v in values if v.strip().lower() in _CASE_WORDS]
    if len(cases) == 1:
        return cases[0]
    controls = [v for v in values if v.strip().lower() in _CONTROL_WORDS]
    if len(controls) == 1:
        return next(v for v in values if v != controls[0])
    logger.info(
        "group_embedding.tsv: cannot tell case from control in %s values %s; "
        "drawing %r as case (pass case_label)",
        phenotype_name,
        values,
        values[-1],
    )
    return values[-1]


def _is_binary(phenotype: pd.Series) -> bool:
    values = phenotype.dropna().unique()
    return len(values) <= 2 or not pd.api.types.is_numeric_dtype(phenotype)


def group_embedding_stats(group_embedding: pd.DataFrame) -> dict:
    """Association of PC1 with the phenotype.

    Returns
    -------
    dict
        Binary phenotype: ``{"test": "Mann-Whitney U", "statistic": U, "p": P}`` on PC1
        between the two classes. Continuous: ``{"test": "Spearman", "statistic": rho, "p": P}``.
        ``p`` is NaN when a class has no member.
    """
    require_columns(group_embedding, ["group", "PC1", "PC2", "phenotype"], "group_embedding.tsv")
    rows = group_embedding.dropna(subset=["PC1", "phenotype"])
    if _is_binary(rows["phenotype"]):
        classes = sorted(rows["phenotype"].unique(), key=str)
        if len(classes) < 2:
            return {"test": "Mann-Whitney U", "statistic": np.nan, "p": np.nan}
        a = rows.loc[rows["phenotype"] == classes[0], "PC1"]
        b = rows.loc[rows["phenotype"] == classes[1], "PC1"]
        result = mannwhitneyu(a, b, alternative="two-sided")
        return {"test": "Mann-Whitney U", "statistic": float(result.statistic), "p": result.pvalue}
    result = spearmanr(rows["PC1"], rows["phenotype"].astype(float))
    return {"test": "Spearman", "statistic": float(result.statistic), "p": float(result.pvalue)}


def plot_fig6b(
    group_embedding: pd.DataFrame,
    path_png,
    phenotype_name: str = "differentiation efficiency",
    title: str = "Cell-line networks (graph kernel PCA)",
    annotate: bool = False,
    cmap: str = "viridis",
    case_label=None,
):
    """Fig. 6b / 6e: one point per group (cell line, donor) in the graph-kernel PCA.

    Parameters
    ----------
    group_embedding
        ``group_embedding.tsv``: columns group, PC1, PC2, phenotype. A numeric phenotype
        with more than two values gets a colour bar; otherwise two (or more) colours.
    phenotype_name
        Label of the colour bar / legend, e.g. ``"dementia"``.
    annotate
        Write the group names next to the points.
    case_label
        Binary phenotype: the value meaning "case", drawn in the case colour of
        Fig. 6d/6f (red), the other value blue. ``None``: the value named like a case
        (``case``, ``dementia``, ``positive``, ``1``, ...) or else the one that is not
        named like a control; failing both, the larger of the two sorted values (logged).
    """
    stats = group_embedding_stats(group_embedding)
    fig, axes = new_figure(panel_size=(4.0, 3.6), extra_width=1.2)
    ax = axes[0, 0]
    phenotype = group_embedding["phenotype"]
    if _is_binary(phenotype):
        values = sorted(phenotype.dropna().astype(str).unique())
        if len(values) == 2:
            case = _case_value(values, case_label, phenotype_name)
            control = next(v for v in values if v != case)
            # the same red/blue as the edges of Fig. 6d/6f
            colours = {control: CONTROL_COLOR, case: CASE_COLOR}
        else:
            colours = category_colors(values)
        for value, colour in colours.items():
            rows = group_embedding[phenotype.astype(str) == value]
            ax.scatter(rows["PC1"], rows["PC2"], s=30, color=colour, edgecolors="black", lw=0.4)
        handles = [Line2D([], [], ls="", marker="o", color=c) for c in colours.values()]
        outside_legend(fig, handles, list(colours), title=phenotype_name)
        stat_text = f"PC1 by class: Mann-Whitney P = {stats['p']:.2g}"
    else:
        points = ax.scatter(
            group_embedding["PC1"],
            group_embedding["PC2"],
            c=phenotype.astype(float),
            cmap=cmap,
            s=30,
            edgecolors="black",
            linewidths=0.4,
        )
        fig.colorbar(points, ax=ax, label=phenotype_name)
        stat_text = f"Spearman(PC1, phenotype) ρ = {stats['statistic']:.2f}, P = {stats['p']:.2g}"
    if annotate:
        for _, row in group_embedding.iterrows():
            ax.annotate(
                str(row["group"]),
                (row["PC1"], row["PC2"]),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6,
            )
    ax.set_xlabel("PC1 of graph-kernel distances")
    ax.set_ylabel("PC2 of graph-kernel distances")
    ax.set_title(f"{title}\n{stat_text}", fontsize="medium")
    return save_figure(fig, path_png)


def plot_fig6e(
    group_embedding: pd.DataFrame,
    path_png,
    phenotype_name: str = "dementia",
    title: str = "Donor networks (graph kernel PCA)",
    **opts,
):
    """Fig. 6e: donors of one cell type coloured by case-control status (see :func:`plot_fig6b`)."""
    return plot_fig6b(group_embedding, path_png, phenotype_name=phenotype_name, title=title, **opts)


# ----------------------------------------------------------------------------- 6c
CENTRALITY_PHENOTYPE_COLUMNS = ["gene", "rho", "p", "q", "mean_rho", "mean_p", "mean_q"]


def plot_fig6c(
    centrality_phenotype: pd.DataFrame,
    path_png,
    top_n: int = 30,
    q_threshold: float = 0.05,
    kind: str = "bars",
):
    """Fig. 6c: genes whose degree centrality correlates with the phenotype.

    Parameters
    ----------
    centrality_phenotype
        ``centrality_phenotype.tsv``: columns gene, rho, p, q (centrality vs phenotype)
        and mean_rho, mean_p, mean_q (mean expression vs phenotype).
    top_n
        ``kind="bars"``: the ``top_n`` genes by |rho|, as bars sorted by rho.
    kind
        ``"bars"`` or ``"volcano"`` (rho vs -log10 q, all genes).
    q_threshold
        Genes with q >= this are faded (bars) or drawn small (volcano).

    MT- genes are coloured by respiratory-chain complex, other genes grey.
    """
    require_columns(centrality_phenotype, CENTRALITY_PHENOTYPE_COLUMNS, "centrality_phenotype.tsv")
    if kind not in ("bars", "volcano"):
        raise ValueError(f"kind must be 'bars' or 'volcano', got {kind!r}")
    table = centrality_phenotype.dropna(subset=["rho"]).copy()
    table["gene"] = table["gene"].astype(str)
    table["complex"] = table["gene"].map(mt_complex)
    table["colour"] = table["complex"].map(_COMPLEX_COLORS).fillna(NEUTRAL_GREY)
    significant = (table["q"] < q_threshold).to_numpy()
    if kind == "bars":
        top = table.loc[table["rho"].abs().nlargest(top_n).index].sort_values("rho")
        sig_top = (top["q"] < q_threshold).to_numpy()
        fig, axes = new_figure(panel_size=(3.6, 0.16 * len(top) + 1.4), extra_width=1.8)
        ax = axes[0, 0]
        y = np.arange(len(top))
        ax.barh(y, top["rho"], color=top["colour"], edgecolor="black", linewidth=0.4)
        for bar, sig in zip(ax.patches, sig_top, strict=True):
            bar.set_alpha(1.0 if sig else 0.35)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, top["gene"], fontsize=7)
        ax.set_xlabel("Spearman ρ (degree centrality vs phenotype)")
        ax.set_title(f"Top {len(top)} genes by |ρ|", fontsize="medium")
    else:
        fig, axes = new_figure(panel_size=(4.0, 3.6), extra_width=1.8)
        ax = axes[0, 0]
        neg_log_q = -np.log10(table["q"].clip(lower=1e-300))
        ax.scatter(
            table["rho"],
            neg_log_q,
            c=table["colour"],
            s=np.where(significant, 16, 5),
            linewidths=0,
        )
        ax.axhline(-np.log10(q_threshold), color="black", ls="--", lw=0.8)
        ax.set_xlabel("Spearman ρ (degree centrality vs phenotype)")
        ax.set_ylabel("−log10 q (BH-adjusted P)")
        ax.set_title(f"{int(significant.sum())} genes with q < {q_threshold}", fontsize="medium")
    present = [c for c in _COMPLEX_COLORS if c in set(table["complex"].dropna())]
    handles = [Patch(color=_COMPLEX_COLORS[c]) for c in present] + [Patch(color=NEUTRAL_GREY)]
    labels = [f"MT: {c}" for c in present] + ["non-MT gene"]
    if kind == "bars":
        handles.append(Patch(facecolor=NEUTRAL_GREY, alpha=0.35, edgecolor="black"))
        labels.append(f"q ≥ {q_threshold} (faded)")
    outside_legend(fig, handles, labels)
    return save_figure(fig, path_png)


# ----------------------------------------------------------------------------- 6d / 6f
EDGE_COLUMNS = ["gene_a", "gene_b", "statistic", "p", "q", "frac_case", "frac_control"]


def select_edges(
    edges: pd.DataFrame, genes=None, q_threshold: float | None = 0.05, min_frac: float | None = None
) -> pd.DataFrame:
    """Edges to draw: touching ``genes`` (all if None), q < ``q_threshold`` and present in at
    least ``min_frac`` of the case or of the control networks (each filter off when None)."""
    require_columns(edges, EDGE_COLUMNS, "edges.tsv")
    keep = pd.Series(True, index=edges.index)
    if genes is not None:
        genes = set(map(str, genes))
        keep &= edges["gene_a"].astype(str).isin(genes) | edges["gene_b"].astype(str).isin(genes)
    if q_threshold is not None:
        keep &= edges["q"] < q_threshold
    if min_frac is not None:
        keep &= edges[["frac_case", "frac_control"]].max(axis=1) >= min_frac
    return edges.loc[keep]


def plot_fig6d(
    edges: pd.DataFrame,
    path_png,
    genes=None,
    q_threshold: float | None = 0.05,
    min_frac: float | None = None,
    title: str = "Edges whose presence differs between groups",
    case_label: str = "case",
    control_label: str = "control",
):
    """Fig. 6d / 6f: chosen gene set's significant edges on a circle.

    Parameters
    ----------
    edges
        ``edges.tsv``: columns gene_a, gene_b, statistic, p, q, frac_case, frac_control
        (fraction of case / control networks containing the edge).
    genes
        The gene set (e.g. MT genes, KEGG Parkinson's disease); edges touching it are
        drawn. Default: every edge.
    q_threshold, min_frac
        See :func:`select_edges`. Fig. 6f of the paper uses ``min_frac=0.2``.
    case_label, control_label
        Names of the two groups in the legend (e.g. "dementia", "no dementia").

    Edge colour gives the direction (more frequent in cases: red; in controls: blue),
    width the difference in frequency. Nodes of the gene set are dark (MT genes by
    complex), their neighbours outside the set white.
    """
    chosen = select_edges(edges, genes, q_threshold, min_frac)
    gene_set = None if genes is None else set(map(str, genes))
    endpoints = list(dict.fromkeys([*chosen["gene_a"].astype(str), *chosen["gene_b"].astype(str)]))
    if gene_set is not None:
        # show the whole set even where a member has no drawn edge
        endpoints = list(dict.fromkeys([*sorted(gene_set), *endpoints]))
    in_set = [g for g in endpoints if gene_set is None or g in gene_set]
    nodes = sorted(in_set, key=lambda g: (mt_complex(g) or "~", g)) + sorted(
        g for g in endpoints if g not in in_set
    )
    fig, axes = new_figure(panel_size=(4.6, 4.6), extra_width=2.2)
    ax = axes[0, 0]
    ax.set_aspect("equal")
    ax.set_axis_off()
    angle = {g: 2 * np.pi * i / max(len(nodes), 1) for i, g in enumerate(nodes)}
    pos = {g: np.array([np.cos(a), np.sin(a)]) for g, a in angle.items()}
    diff = (chosen["frac_case"] - chosen["frac_control"]).to_numpy(dtype=float)
    for (a, b), d in zip(chosen[["gene_a", "gene_b"]].astype(str).to_numpy(), diff, strict=True):
        # quadratic curve bent towards the centre: chords stay apart from the rim labels
        control = 0.3 * (pos[a] + pos[b])
        path = MplPath([pos[a], control, pos[b]], [MplPath.MOVETO, MplPath.CURVE3, MplPath.CURVE3])
        colour = CASE_COLOR if d > 0 else CONTROL_COLOR if d < 0 else "0.5"
        ax.add_patch(
            PathPatch(path, facecolor="none", edgecolor=colour, lw=0.8 + 4 * abs(d), alpha=0.8)
        )
    used_kinds: dict[str, str] = {}  # legend label -> face colour, for the nodes drawn
    for g in nodes:
        complex_name = mt_complex(g)
        if gene_set is not None and g not in gene_set:
            face, kind = "white", "neighbour outside set"
        elif complex_name is not None:
            face, kind = _COMPLEX_COLORS[complex_name], f"MT: {complex_name}"
        else:
            face, kind = "0.25", "gene in set" if gene_set is not None else "gene"
        used_kinds[kind] = face
        ax.scatter(*pos[g], s=60, color=face, edgecolors="black", linewidths=0.6, zorder=3)
        deg = np.degrees(angle[g])
        flip = 90 < deg < 270
        ax.text(
            *(1.1 * pos[g]),
            g,
            rotation=deg - 180 if flip else deg,
            rotation_mode="anchor",
            ha="right" if flip else "left",
            va="center",
            fontsize=7 if len(nodes) <= 40 else 5,
        )
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    filters = [f"q < {q_threshold}" if q_threshold is not None else None]
    filters.append(f"in ≥ {min_frac:.0%} of a group" if min_frac is not None else None)
    subtitle = ", ".join(f for f in filters if f) or "all edges"
    if chosen.empty:
        logger.warning("edges.tsv: no edge passes the filters (%s)", subtitle)
        # below the ring, not at its centre: long rim labels reach into the middle
        ax.text(
            0.5,
            -0.02,
            f"no edge with {subtitle}",
            transform=ax.transAxes,
            ha="center",
            va="top",
            style="italic",
        )
    ax.set_title(f"{title}\n{len(chosen)} edges ({subtitle})", fontsize="medium")
    handles = [
        Line2D([], [], color=CASE_COLOR, lw=2),
        Line2D([], [], color=CONTROL_COLOR, lw=2),
    ]
    labels = [f"more frequent in {case_label}", f"more frequent in {control_label}"]
    for kind in sorted(used_kinds):
        handles.append(
            Line2D([], [], ls="", marker="o", color=used_kinds[kind], markeredgecolor="black")
        )
        labels.append(kind)
    outside_legend(fig, handles, labels, title="line width = |Δ frequency|")
    return save_figure(fig, path_png)


def plot_fig6f(edges: pd.DataFrame, path_png, genes=None, min_frac: float | None = 0.2, **opts):
    """Fig. 6f: as :func:`plot_fig6d`, keeping edges present in >= 20% of a group's networks."""
    opts.setdefault("title", "Gene-set edges, cases vs controls")
    return plot_fig6d(edges, path_png, genes=genes, min_frac=min_frac, **opts)
