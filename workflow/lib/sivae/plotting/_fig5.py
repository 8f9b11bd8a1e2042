"""Fig. 5: gene hubs and gene neighbours from siVAE versus explicit network inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ._style import method_color, method_label, method_order
from ._utils import (
    annotated_heatmap,
    grid_shape,
    hide_unused,
    new_figure,
    pairwise_matrix,
    require_columns,
    save_figure,
)

CENTRALITY_COLUMNS = ["method", "gene", "centrality", "true_centrality"]


def centrality_spearman(centrality: pd.DataFrame) -> pd.Series:
    """Spearman ρ between predicted and true degree centrality, per method (NaN-free rows)."""
    require_columns(centrality, CENTRALITY_COLUMNS, "centrality.tsv")
    out = {}
    for method, rows in centrality.groupby(centrality["method"].astype(str), sort=False):
        rows = rows.dropna(subset=["centrality", "true_centrality"])
        out[method] = spearmanr(rows["centrality"], rows["true_centrality"]).statistic
    return pd.Series(out, name="spearman").reindex(method_order(out))


def top_hub_true_centrality(centrality: pd.DataFrame, top_n: int = 20) -> pd.Series:
    """Mean true centrality of each method's ``top_n`` genes ranked by predicted centrality."""
    require_columns(centrality, CENTRALITY_COLUMNS, "centrality.tsv")
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    out = {
        method: rows.nlargest(top_n, "centrality")["true_centrality"].mean()
        for method, rows in centrality.groupby(centrality["method"].astype(str), sort=False)
    }
    return pd.Series(out, name=f"top{top_n}_true_centrality").reindex(method_order(out))


def plot_fig5a(centrality: pd.DataFrame, path_png, methods=None):
    """Fig. 5a: predicted vs ground-truth degree centrality, one small multiple per method.

    Parameters
    ----------
    centrality
        ``centrality.tsv``: columns method, gene, centrality (predicted; siVAE: minus
        reconstruction error), true_centrality. Spearman ρ is in each title.
    methods
        Methods to show, in order; default all, siVAE first.
    """
    rho = centrality_spearman(centrality)
    methods = methods or list(rho.index)
    nrows, ncols = grid_shape(len(methods))
    fig, axes = new_figure(ncols, nrows, panel_size=(2.9, 2.8))
    for ax, method in zip(axes.ravel(), methods, strict=False):
        rows = centrality[centrality["method"].astype(str) == method]
        if rows.empty:
            raise ValueError(f"centrality.tsv: no rows for method {method!r}")
        ax.scatter(
            rows["true_centrality"], rows["centrality"], s=6, color=method_color(method), alpha=0.7
        )
        ax.set_title(f"{method_label(method)}\nSpearman ρ = {rho[method]:.2f}", fontsize="medium")
        ax.set_xlabel("true degree centrality")
        ax.set_ylabel("predicted centrality")
    hide_unused(axes, len(methods))
    return save_figure(fig, path_png)


def plot_fig5b(centrality: pd.DataFrame, path_png, top_n: int = 20):
    """Fig. 5b: mean true centrality of each method's top-``top_n`` predicted hubs.

    The dashed line is the mean true centrality over all genes (what random picks get).
    """
    means = top_hub_true_centrality(centrality, top_n)
    methods = list(means.index)
    fig, axes = new_figure(panel_size=(0.55 * len(methods) + 2.0, 3.4))
    ax = axes[0, 0]
    x = np.arange(len(methods))
    ax.bar(x, means, color=[method_color(m) for m in methods], edgecolor="black", linewidth=0.5)
    baseline = centrality.drop_duplicates("gene")["true_centrality"].mean()
    ax.axhline(baseline, color="black", ls="--", lw=1)
    ax.annotate(
        "all genes",
        xy=(1.0, baseline),
        xycoords=("axes fraction", "data"),
        xytext=(-2, 3),
        textcoords="offset points",
        ha="right",
        fontsize="small",
    )
    ax.set_xticks(x, [method_label(m) for m in methods], rotation=45, ha="right")
    ax.set_ylabel(f"mean true centrality of top {top_n}")
    ax.set_title(f"Top-{top_n} predicted hubs")
    return save_figure(fig, path_png)


def neighbour_medians(neighbour_accuracy: pd.DataFrame) -> pd.Series:
    """Median variance explained (fraction) per method."""
    require_columns(
        neighbour_accuracy, ["method", "gene", "variance_explained"], "neighbour_accuracy.tsv"
    )
    med = neighbour_accuracy.groupby(neighbour_accuracy["method"].astype(str))[
        "variance_explained"
    ].median()
    return med.reindex(method_order(med.index))


def plot_fig5c(neighbour_accuracy: pd.DataFrame, path_png, seed: int = 0):
    """Fig. 5c: % variance of each query gene explained by its 20 neighbours, per method.

    Parameters
    ----------
    neighbour_accuracy
        ``neighbour_accuracy.tsv``: columns method, gene, variance_explained (a
        fraction, R² <= 1; shown in %). Boxes per method with the genes as dots.
    """
    medians = neighbour_medians(neighbour_accuracy)
    values = neighbour_accuracy["variance_explained"].astype(float)
    if (values > 1.0 + 1e-9).any():
        raise ValueError(
            "neighbour_accuracy.tsv: column 'variance_explained' must be a fraction (<= 1); "
            f"max is {values.max():.3g} (percent given?)"
        )
    methods = list(medians.index)
    fig, axes = new_figure(panel_size=(0.6 * len(methods) + 2.0, 3.6))
    ax = axes[0, 0]
    data = [
        100.0
        * neighbour_accuracy.loc[
            neighbour_accuracy["method"].astype(str) == m, "variance_explained"
        ]
        .astype(float)
        .dropna()
        .to_numpy()
        for m in methods
    ]
    boxes = ax.boxplot(
        data, positions=range(len(methods)), widths=0.6, patch_artist=True, showfliers=False
    )
    for patch, method in zip(boxes["boxes"], methods, strict=True):
        patch.set_facecolor(method_color(method))
        patch.set_alpha(0.75)
    for median_line in boxes["medians"]:
        median_line.set_color("black")
    rng = np.random.default_rng(seed)
    for i, d in enumerate(data):
        ax.scatter(i + rng.uniform(-0.18, 0.18, len(d)), d, s=4, color="black", alpha=0.4, zorder=3)
    ax.set_xticks(range(len(methods)), [method_label(m) for m in methods], rotation=45, ha="right")
    ax.set_ylabel("variance explained (%)")
    n_genes = neighbour_accuracy["gene"].nunique()
    ax.set_title(f"Query gene predicted by its neighbours ({n_genes} genes)", fontsize="medium")
    return save_figure(fig, path_png)


def _method_heatmap(table, path_png, value, table_name, cmap, vmin, vmax, cbar, title, diagonal):
    require_columns(table, ["method_a", "method_b", value], table_name)
    names = method_order([*table["method_a"], *table["method_b"]])
    matrix = pairwise_matrix(table, "method_a", "method_b", value, order=names, diagonal=diagonal)
    fig, axes = new_figure(panel_size=(0.55 * len(names) + 2.4, 0.5 * len(names) + 1.8))
    ax = axes[0, 0]
    image = annotated_heatmap(ax, matrix, cmap, vmin, vmax, labeller=method_label)
    fig.colorbar(image, ax=ax, label=cbar, shrink=0.8)
    ax.set_title(title)
    return save_figure(fig, path_png)


def plot_fig5d(jaccard: pd.DataFrame, path_png):
    """Fig. 5d: Jaccard index between neighbour sets of pairs of methods (``jaccard.tsv``)."""
    return _method_heatmap(
        jaccard,
        path_png,
        "jaccard",
        "jaccard.tsv",
        "viridis",
        0.0,
        1.0,
        "Jaccard index (fraction)",
        "Overlap of neighbour sets",
        1.0,
    )


def plot_fig5e(mean_correlation: pd.DataFrame, path_png):
    """Fig. 5e: mean Pearson correlation between neighbour sets (``mean_correlation.tsv``)."""
    return _method_heatmap(
        mean_correlation,
        path_png,
        "mean_correlation",
        "mean_correlation.tsv",
        "RdBu_r",
        -1.0,
        1.0,
        "mean Pearson r",
        "Co-expression of neighbour sets",
        np.nan,
    )
