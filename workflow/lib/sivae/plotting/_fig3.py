"""Fig. 3: agreement of interpretations and the time they take."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, NullFormatter

from ._style import method_color, method_label, method_mode_label, method_order
from ._utils import (
    annotated_heatmap,
    new_figure,
    outside_legend,
    pairwise_matrix,
    require_columns,
    save_figure,
)

logger = logging.getLogger(__name__)

TIMING_COLUMNS = ["method", "mode", "K", "F", "n_cells", "seconds", "extrapolated", "device"]
SECONDS_PER_DAY = 86400.0
_LINESTYLES = ("-", "--", ":", "-.")


def plot_fig3a(agreement: pd.DataFrame, path_png, order=None):
    """Fig. 3a: heatmap of the median Spearman correlation between interpretations.

    Parameters
    ----------
    agreement
        ``agreement.tsv``: columns method_a, method_b, median_spearman (each pair once
        in either direction; the diagonal is 1 unless given).
    order
        Row/column order; default siVAE first, then the method order of the style.
    """
    require_columns(agreement, ["method_a", "method_b", "median_spearman"], "agreement.tsv")
    names = order or method_order([*agreement["method_a"], *agreement["method_b"]])
    matrix = pairwise_matrix(
        agreement, "method_a", "method_b", "median_spearman", order=names, diagonal=1.0
    )
    fig, axes = new_figure(panel_size=(0.55 * len(names) + 2.4, 0.5 * len(names) + 1.8))
    ax = axes[0, 0]
    image = annotated_heatmap(ax, matrix, "RdBu_r", -1.0, 1.0, labeller=method_label)
    fig.colorbar(image, ax=ax, label="median Spearman ρ (over cells / dims)", shrink=0.8)
    ax.set_title("Agreement between interpretations")
    return save_figure(fig, path_png)


def _as_bool(values: pd.Series) -> np.ndarray:
    """``extrapolated`` column as bool, accepting True/False, 1/0 and their strings."""
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    unknown = sorted(set(text) - {"true", "false", "1", "0", "1.0", "0.0", "yes", "no"})
    if unknown:
        raise ValueError(f"timing.tsv: column 'extrapolated' has non-boolean values {unknown}")
    return text.isin({"true", "1", "1.0", "yes"}).to_numpy()


def _timing(timing: pd.DataFrame) -> pd.DataFrame:
    require_columns(timing, TIMING_COLUMNS, "timing.tsv")
    out = timing.copy()
    out["method"] = out["method"].astype(str)
    out["mode"] = out["mode"].fillna("").astype(str)
    out["extrapolated"] = _as_bool(out["extrapolated"])
    return out


def _human_time(seconds: float) -> str:
    """'42 s', '3.5 min', '2.1 h' or '2.5 d': the bar labels of Fig. 3b."""
    for unit, size in (("d", SECONDS_PER_DAY), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.2g} s"


def _series_label(method: str, mode: str, modes_of_method: dict) -> str:
    """'saliency (forward)' when the method was timed in several modes, else the method."""
    if mode and len(modes_of_method[method]) > 1:
        return method_mode_label(method, mode)
    return method_label(method)


def largest_setting(timing: pd.DataFrame) -> pd.DataFrame:
    """Total seconds per (method, mode) at the setting with the most work (max K·F·n_cells).

    Returns
    -------
    DataFrame
        Columns method, mode, K, F, n_cells, seconds (summed over rows), extrapolated
        (any row extrapolated), device, total_seconds (summed optional column of
        timing.tsv: VAE training + attribution; NaN where not given).
    """
    timing = _timing(timing)
    if "total_seconds" not in timing:
        timing["total_seconds"] = np.nan
    timing["total_seconds"] = pd.to_numeric(timing["total_seconds"], errors="coerce")
    size = timing["K"].astype(float) * timing["F"].astype(float) * timing["n_cells"].astype(float)
    biggest = timing.loc[size == size.max()]
    return (
        biggest.groupby(["method", "mode"], sort=False)
        .agg(
            K=("K", "first"),
            F=("F", "first"),
            n_cells=("n_cells", "first"),
            seconds=("seconds", "sum"),
            extrapolated=("extrapolated", "any"),
            device=("device", lambda d: ", ".join(sorted(set(map(str, d))))),
            total_seconds=("total_seconds", lambda v: v.sum(min_count=1)),
        )
        .reset_index()
    )


def plot_fig3b(timing: pd.DataFrame, path_png):
    """Fig. 3b: total time per method at the largest (K, F, n_cells) setting, log scale.

    Bars are the summed ``seconds`` of each (method, mode) at that setting; bars with
    any extrapolated part are hatched. A right-hand axis gives the same time in days.
    """
    totals = largest_setting(timing)
    order = method_order(totals["method"])
    totals = totals.assign(rank=totals["method"].map(order.index)).sort_values(["rank", "mode"])
    modes_of = totals.groupby("method")["mode"].unique().to_dict()
    labels = [
        _series_label(m, mo, modes_of)
        for m, mo in zip(totals["method"], totals["mode"], strict=True)
    ]
    fig, axes = new_figure(panel_size=(0.6 * len(totals) + 2.6, 3.6), extra_width=1.6)
    ax = axes[0, 0]
    x = np.arange(len(totals))
    ax.bar(
        x,
        totals["seconds"],
        color=[method_color(m) for m in totals["method"]],
        hatch=["///" if e else "" for e in totals["extrapolated"]],
        edgecolor="black",
        linewidth=0.5,
    )
    ax.set_yscale("log")
    # bars start a decade below the fastest one, so their heights compare on the log scale
    low, high = totals["seconds"].min(), totals["seconds"].max()
    ax.set_ylim(10 ** np.floor(np.log10(low) - 0.5), high * 3)
    for xi, seconds in zip(x, totals["seconds"], strict=True):
        ax.annotate(
            _human_time(seconds),
            (xi, seconds),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylabel("time (seconds, log scale)")
    ax.yaxis.set_minor_formatter(NullFormatter())
    days = ax.secondary_yaxis(
        "right", functions=(lambda s: s / SECONDS_PER_DAY, lambda d: d * SECONDS_PER_DAY)
    )
    days.set_ylabel("time (days)")
    days.yaxis.set_minor_formatter(NullFormatter())
    first = totals.iloc[0]
    ax.set_title(
        f"K={first['K']}, F={first['F']:,}, {first['n_cells']:,} cells ({first['device']})",
        fontsize="medium",
    )
    handles = [
        Patch(facecolor="white", edgecolor="black", label="measured"),
        Patch(facecolor="white", edgecolor="black", hatch="///", label="extrapolated"),
    ]
    outside_legend(fig, handles, [h.get_label() for h in handles])
    return save_figure(fig, path_png)


def _plot_timing_lines(timing, path_png, vary: str, fixed: str, fixed_value, xlabel: str):
    timing = _timing(timing)
    if fixed_value is None:
        # the fixed value along which the most distinct values of `vary` were timed
        counts = timing.groupby(fixed)[vary].nunique()
        fixed_value = counts.idxmax()
    rows = timing[timing[fixed] == fixed_value]
    if rows.empty:
        raise ValueError(f"timing.tsv: no rows with {fixed}={fixed_value}")
    n_cells = rows["n_cells"].unique()
    if len(n_cells) > 1:
        # one cell count per line, else lines would mix sizes: keep the most common one
        keep = rows["n_cells"].value_counts().idxmax()
        logger.warning(
            "timing.tsv: rows at %s=%s have n_cells %s; plotting n_cells=%s only",
            fixed,
            fixed_value,
            sorted(n_cells),
            keep,
        )
        rows = rows[rows["n_cells"] == keep]
    series = (
        rows.groupby(["method", "mode", vary], sort=False)
        .agg(seconds=("seconds", "sum"), extrapolated=("extrapolated", "any"))
        .reset_index()
    )
    modes_of = series.groupby("method")["mode"].unique().to_dict()
    fig, axes = new_figure(panel_size=(4.2, 3.6), extra_width=2.0)
    ax = axes[0, 0]
    handles, labels = [], []
    for method in method_order(series["method"]):
        for i, mode in enumerate(sorted(modes_of[method])):
            line = series[(series["method"] == method) & (series["mode"] == mode)].sort_values(vary)
            colour = method_color(method)
            style = _LINESTYLES[i % len(_LINESTYLES)]
            (handle,) = ax.plot(line[vary], line["seconds"], color=colour, ls=style, lw=1.3)
            measured = ~line["extrapolated"].to_numpy()
            ax.scatter(
                line[vary][measured], line["seconds"][measured], color=colour, s=22, zorder=3
            )
            ax.scatter(
                line[vary][~measured],
                line["seconds"][~measured],
                facecolors="white",
                edgecolors=colour,
                s=22,
                linewidths=1.2,
                zorder=3,
            )
            handles.append(Line2D([], [], color=colour, ls=style, marker="o"))
            labels.append(_series_label(method, mode, modes_of))
    handles += [
        Line2D([], [], ls="", marker="o", color="0.3"),
        Line2D([], [], ls="", marker="o", markerfacecolor="white", markeredgecolor="0.3"),
    ]
    labels += ["measured", "extrapolated"]
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # K and F are counts
    ax.set_xlabel(xlabel)
    ax.set_ylabel("time (seconds, log scale)")
    ax.set_title(f"{fixed}={fixed_value:,}, {rows['n_cells'].iloc[0]:,} cells", fontsize="medium")
    outside_legend(fig, handles, labels)
    return save_figure(fig, path_png)


def plot_fig3c(timing: pd.DataFrame, path_png, F=None):
    """Fig. 3c: time vs number of embedding dimensions K at fixed F.

    Parameters
    ----------
    timing
        ``timing.tsv``: columns method, mode, K, F, n_cells, seconds, extrapolated, device.
    F
        Number of features held fixed; default the F timed at the most K values.
        Hollow markers are extrapolated times.
    """
    return _plot_timing_lines(timing, path_png, "K", "F", F, "embedding dimensions K")


def plot_fig3d(timing: pd.DataFrame, path_png, K=None):
    """Fig. 3d: time vs number of features F at fixed K (default: the K timed at most F)."""
    return _plot_timing_lines(timing, path_png, "F", "K", K, "number of features F")
