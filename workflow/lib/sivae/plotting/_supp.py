"""Supplementary panels: γ sweep (S5), error vs distance (S11), feature input (S24), training (S25)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from scipy.stats import spearmanr

from ._style import METHOD_COLORS, NEUTRAL_GREY, category_colors, method_color, method_label
from ._utils import (
    grid_shape,
    hide_unused,
    new_figure,
    outside_legend,
    require_adata_key,
    require_columns,
    save_figure,
)

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "stage",
    "epoch",
    "step",
    "total",
    "reconstruction",
    "kl_cell",
    "kl_feature",
    "interpretability",
]
LOSS_TERMS = ("total", "reconstruction", "kl_cell", "kl_feature", "interpretability")
FEATURE_INPUT_COLORS = {"subsample": "#4c72b0", "pca": "#dd8452", "full": "#55a868"}


def _gamma_tick(value: float, _pos=None) -> str:
    """'0', '$10^{-2}$' for decades, else the plain number."""
    if value == 0:
        return "0"
    exponent = np.log10(abs(value))
    if np.isclose(exponent, round(exponent)):
        return f"$10^{{{int(round(exponent))}}}$"
    return f"{value:g}"


def _symlog_gamma_axis(ax, gammas: pd.Series, max_ticks: int = 7) -> None:
    """Symlog x axis for γ >= 0 whose '0' tick stays clear of the first decade's tick.

    The linear range ends one decade below the smallest positive γ: with linscale 0.5
    this puts 1.5 decades of axis between 0 and that decade, so their labels never
    overlap (with linthresh = the smallest γ they sat half a decade apart).
    """
    positive = gammas[gammas > 0]
    if positive.empty:
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        ticks = [0.0]
    else:
        low = int(np.floor(np.log10(positive.min())))
        high = int(np.ceil(np.log10(positive.max())))
        step = max(1, int(np.ceil((high - low + 1) / (max_ticks - 1))))
        ax.set_xscale("symlog", linthresh=10.0 ** (low - 1), linscale=0.5)
        ticks = [0.0] + [10.0**e for e in range(low, high + 1, step)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(_gamma_tick))


def plot_figS5(gamma_sweep: pd.DataFrame, path_png, references: dict | None = None):
    """Fig. S5: k-NN accuracy of siVAE as the interpretability weight γ varies.

    Parameters
    ----------
    gamma_sweep
        ``gamma_sweep.tsv``: columns gamma (>= 0), fold, accuracy (balanced, 0-1).
    references
        Optional ``{variant: accuracy}`` drawn as horizontal lines in the variant's
        colour (e.g. siVAE_linear, VAE) to show what γ interpolates between.

    The γ axis is symmetric-log so that γ = 0 is shown: linear below a decade under
    the smallest positive γ, with ticks at 0 and at whole decades only.
    """
    require_columns(gamma_sweep, ["gamma", "fold", "accuracy"], "gamma_sweep.tsv")
    gammas = gamma_sweep["gamma"].astype(float)
    if (gammas < 0).any():
        raise ValueError("gamma_sweep.tsv: column 'gamma' has negative values")
    summary = gamma_sweep.groupby("gamma")["accuracy"].agg(["mean", "std"]).reset_index()
    fig, axes = new_figure(panel_size=(4.2, 3.4), extra_width=1.6 if references else 0.0)
    ax = axes[0, 0]
    colour = METHOD_COLORS["siVAE"]
    ax.errorbar(
        summary["gamma"],
        summary["mean"],
        yerr=summary["std"].fillna(0),
        color=colour,
        marker="o",
        capsize=3,
        label="siVAE (mean ± sd)",
    )
    ax.scatter(gammas, gamma_sweep["accuracy"], s=8, color="black", alpha=0.5, zorder=3)
    _symlog_gamma_axis(ax, gammas)
    for variant, value in (references or {}).items():
        ax.axhline(value, color=method_color(variant), ls="--", lw=1.2, label=method_label(variant))
    ax.set_xlabel("interpretability weight γ (symlog)")
    ax.set_ylabel("balanced k-NN accuracy (fraction)")
    ax.set_title("Accuracy vs γ", fontsize="medium")
    if references:
        handles, labels = ax.get_legend_handles_labels()
        outside_legend(fig, handles, labels)
    return save_figure(fig, path_png)


def plot_figS11(
    adata,
    path_png,
    varm_key: str = "sivae_loadings",
    error_key: str = "reconstruction_error",
    community_key: str | None = "community",
):
    """Fig. S11: per-gene reconstruction error vs distance from the origin of feature space.

    Parameters
    ----------
    adata
        Model output AnnData with ``varm[varm_key]`` (n_genes, K) and
        ``var[error_key]`` (per-gene reconstruction MSE).
    community_key
        If present in ``var``, genes are coloured by community (-1 = isolated, grey).
    """
    what = "Fig. S11 AnnData"
    require_adata_key(adata, "varm", varm_key, what)
    require_adata_key(adata, "var", error_key, what)
    distance = np.linalg.norm(np.asarray(adata.varm[varm_key], dtype=float), axis=1)
    error = adata.var[error_key].to_numpy(dtype=float)
    rho = spearmanr(distance, error).statistic
    fig, axes = new_figure(panel_size=(4.0, 3.4), extra_width=1.4)
    ax = axes[0, 0]
    if community_key is not None and community_key in adata.var:
        community = adata.var[community_key].to_numpy()
        groups = sorted(set(community.tolist()))
        colours = category_colors([g for g in groups if g != -1])
        colours = {-1: NEUTRAL_GREY, **colours} if -1 in groups else colours
        for g, c in colours.items():
            mask = community == g
            ax.scatter(distance[mask], error[mask], s=10, color=c, linewidths=0)
        handles = [Line2D([], [], ls="", marker="o", color=c) for c in colours.values()]
        names = ["isolated" if g == -1 else f"community {g}" for g in colours]
        outside_legend(fig, handles, names)
    else:
        ax.scatter(distance, error, s=10, color=METHOD_COLORS["siVAE"], linewidths=0)
    ax.set_xlabel("distance from origin in feature embedding (‖v_g‖)")
    ax.set_ylabel("reconstruction error (MSE)")
    ax.set_title(f"Spearman ρ = {rho:.2f}", fontsize="medium")
    return save_figure(fig, path_png)


def plot_figS24(feature_input: pd.DataFrame, path_png):
    """Fig. S24: metrics of siVAE for each feature-input mode (one subplot per metric).

    Parameters
    ----------
    feature_input
        ``feature_input.tsv``: columns mode (subsample | pca | full), metric, value.
        Several rows per (mode, metric) are shown as mean ± sd with the rows as dots.
    """
    require_columns(feature_input, ["mode", "metric", "value"], "feature_input.tsv")
    modes = [m for m in FEATURE_INPUT_COLORS if m in set(feature_input["mode"])]
    unknown = sorted(set(feature_input["mode"].astype(str)) - set(FEATURE_INPUT_COLORS))
    if unknown:
        raise ValueError(
            f"feature_input.tsv: column 'mode' has unknown value(s) {unknown}; "
            f"expected {list(FEATURE_INPUT_COLORS)}"
        )
    metrics = list(dict.fromkeys(feature_input["metric"].astype(str)))
    nrows, ncols = grid_shape(len(metrics), max_cols=3)
    fig, axes = new_figure(ncols, nrows, panel_size=(2.6, 3.0))
    for ax, metric in zip(axes.ravel(), metrics, strict=False):
        rows = feature_input[feature_input["metric"].astype(str) == metric]
        stats = rows.groupby("mode")["value"].agg(["mean", "std"]).reindex(modes)
        x = np.arange(len(modes))
        ax.bar(
            x,
            stats["mean"],
            yerr=stats["std"].fillna(0),
            color=[FEATURE_INPUT_COLORS[m] for m in modes],
            capsize=3,
            edgecolor="black",
            linewidth=0.5,
        )
        for i, mode in enumerate(modes):
            values = rows.loc[rows["mode"] == mode, "value"]
            ax.scatter(np.full(len(values), i), values, s=8, color="black", zorder=3)
        ax.set_xticks(x, modes)
        ax.set_xlabel("feature-encoder input")
        ax.set_ylabel(metric)
        ax.set_title(metric, fontsize="medium")
    hide_unused(axes, len(metrics))
    return save_figure(fig, path_png)


def _global_steps(history: pd.DataFrame) -> pd.DataFrame:
    """Add ``global_step``: steps continue across stages when a stage restarts its count."""
    out = history.reset_index(drop=True).copy()
    offset = 0.0
    global_step = np.empty(len(out))
    for stage in dict.fromkeys(out["stage"]):
        mask = (out["stage"] == stage).to_numpy()
        steps = out.loc[mask, "step"].to_numpy(dtype=float)
        if steps.min() < offset:
            steps = steps - steps.min() + offset  # this stage restarted at 0
        global_step[mask] = steps
        offset = steps.max() + 1
    out["global_step"] = global_step
    return out


def plot_figS25(histories, path_png, terms=LOSS_TERMS, logy: bool = False):
    """Fig. S25: training curves, one line per model, stages separated by dotted lines.

    Parameters
    ----------
    histories
        ``{model_name: history}`` of ``history.tsv`` tables, or one table with an
        extra ``model`` column. Columns stage, epoch, step, total, reconstruction,
        kl_cell, kl_feature, interpretability (terms a model lacks may be NaN).
    terms
        Loss terms to plot, one subplot each.
    logy
        Symmetric-log y axes (losses can be negative: Gaussian NLL).
    """
    if isinstance(histories, pd.DataFrame):
        require_columns(histories, ["model"], "history.tsv")
        histories = {str(m): h for m, h in histories.groupby("model", sort=False)}
    if not isinstance(histories, dict) or not histories:
        raise ValueError("history.tsv: expected a non-empty {model: DataFrame} dict")
    tables = {}
    for model, table in histories.items():
        require_columns(table, HISTORY_COLUMNS, f"history.tsv of model {model!r}")
        tables[model] = _global_steps(table)
    nrows, ncols = grid_shape(len(terms), max_cols=3)
    fig, axes = new_figure(ncols, nrows, panel_size=(3.3, 2.8), extra_width=1.6)
    first = next(iter(tables.values()))
    boundaries = first.groupby("stage", sort=False)["global_step"].min().iloc[1:]
    for ax, term in zip(axes.ravel(), terms, strict=False):
        for model, table in tables.items():
            values = table[term].astype(float)
            if values.isna().all():
                continue  # e.g. a plain VAE has no feature KL or interpretability term
            ax.plot(table["global_step"], values, color=method_color(model), lw=1.0)
        for step in boundaries:
            ax.axvline(step, color="0.4", ls=":", lw=1)
        if logy:
            ax.set_yscale("symlog")
        ax.set_xlabel("training step (all stages)")
        ax.set_ylabel(f"{term} loss (per cell)")
        ax.set_title(term, fontsize="medium")
    hide_unused(axes, len(terms))
    handles = [Line2D([], [], color=method_color(m)) for m in tables]
    labels = [method_label(m) for m in tables]
    stage_names = list(dict.fromkeys(first["stage"].astype(str)))
    handles.append(Line2D([], [], color="0.4", ls=":"))
    labels.append("stage boundary\n(" + " → ".join(stage_names) + ")")
    outside_legend(fig, handles, labels, title="model")
    return save_figure(fig, path_png)
