"""Input checks, figure creation and saving shared by the panel modules."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

DPI = 150


# ----------------------------------------------------------------------------- checks
def require_columns(table, columns: Iterable[str], table_name: str) -> pd.DataFrame:
    """Check that ``table`` is a non-empty DataFrame with ``columns``.

    Raises
    ------
    ValueError
        Naming the table and every missing column, or saying the table is empty.
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{table_name}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{table_name}: missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(columns present: {', '.join(map(str, table.columns))})"
        )
    if table.empty:
        raise ValueError(f"{table_name}: table has no rows")
    return table


def require_adata_key(adata, slot: str, key: str, what: str = "AnnData") -> None:
    """Check that ``adata.<slot>`` holds ``key`` (``slot`` in obs, var, obsm, varm, layers).

    Raises
    ------
    ValueError
        Naming the slot, the key and the keys that are present.
    """
    container = getattr(adata, slot, None)
    if container is None:
        raise ValueError(f"{what}: expected an AnnData with .{slot}, got {type(adata).__name__}")
    keys = list(container.columns) if isinstance(container, pd.DataFrame) else list(container)
    if key not in keys:
        raise ValueError(
            f"{what}: {slot}[{key!r}] is missing (present: {', '.join(map(str, keys)) or 'none'})"
        )


def two_columns(matrix, key: str, dims: Sequence[int], what: str) -> np.ndarray:
    """Columns ``dims`` of a 2-D embedding as float array (n, 2), with a clear error."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] <= max(dims):
        raise ValueError(
            f"{what}: {key!r} has shape {matrix.shape}; need at least {max(dims) + 1} columns "
            f"to plot dimensions {tuple(d + 1 for d in dims)}"
        )
    return matrix[:, list(dims)]


# ----------------------------------------------------------------------------- figures
def new_figure(ncols: int = 1, nrows: int = 1, panel_size=(3.6, 3.2), extra_width: float = 0.0):
    """A constrained-layout Figure with an ``nrows x ncols`` grid of axes.

    Uses :class:`matplotlib.figure.Figure` directly (no pyplot state), so figures
    are garbage-collected and nothing depends on an interactive backend.

    Returns
    -------
    fig, axes
        ``axes`` is a 2-D array of shape (nrows, ncols).
    """
    fig = Figure(
        figsize=(panel_size[0] * ncols + extra_width, panel_size[1] * nrows), layout="constrained"
    )
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def grid_shape(n_panels: int, max_cols: int = 4) -> tuple[int, int]:
    """(nrows, ncols) for ``n_panels`` small multiples, at most ``max_cols`` wide."""
    ncols = min(max_cols, n_panels)
    return math.ceil(n_panels / ncols), ncols


def hide_unused(axes, n_used: int) -> None:
    """Switch off the axes of a grid after the first ``n_used``."""
    for ax in np.ravel(axes)[n_used:]:
        ax.set_axis_off()


def save_figure(fig: Figure, path_png) -> Figure:
    """Write ``fig`` as PNG (dpi 150) at ``path_png`` and as PDF with the same stem.

    Raises
    ------
    ValueError
        If ``path_png`` does not end in ``.png``.
    """
    path_png = Path(path_png)
    if path_png.suffix.lower() != ".png":
        raise ValueError(f"figure path must end in .png, got {str(path_png)!r}")
    path_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path_png, dpi=DPI)
    fig.savefig(path_png.with_suffix(".pdf"))
    logger.info("wrote %s and %s", path_png, path_png.with_suffix(".pdf").name)
    return fig


def outside_legend(fig: Figure, handles, labels, title: str | None = None, max_rows: int = 22):
    """Legend to the right of all axes, in enough columns to stay below ``max_rows`` rows."""
    if not handles:
        return None
    # a legend row at fontsize "small" takes ~0.2 inch: never let it run past the figure
    max_rows = max(4, min(max_rows, int(fig.get_figheight() / 0.2) - 2))
    ncol = max(1, math.ceil(len(handles) / max_rows))
    return fig.legend(
        handles,
        labels,
        loc="outside right upper",
        title=title,
        ncol=ncol,
        frameon=False,
        fontsize="small",
        markerscale=1.5,
    )


def legend_width(labels, title: str | None = None, minimum: float = 1.4) -> float:
    """Inches to reserve right of the axes for an :func:`outside_legend` of ``labels``.

    About 0.07 inch per character at fontsize "small" plus the marker: long labels
    (cell types such as "CD4+/CD45RA+/CD25- Naive T") otherwise run off the figure.
    """
    longest = max([len(str(x)) for x in labels] + [0.8 * len(title or "")])
    return max(minimum, 0.5 + 0.07 * longest)


def point_size(n_points: int) -> float:
    """Marker area for a scatter of ``n_points`` cells: large for tens, small for 10^5."""
    return float(np.clip(3000.0 / max(n_points, 1), 1.0, 30.0))


def rasterize(n_points: int) -> bool:
    """Rasterise scatters of many points inside the PDF, which stays small and fast to write."""
    return n_points > 2000


def label_scatter_axes(ax, xlabel: str, ylabel: str) -> None:
    """Axis labels for an embedding scatter; embeddings are unitless coordinates."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("auto")


# ----------------------------------------------------------------------------- heatmaps
def pairwise_matrix(
    table: pd.DataFrame, col_a: str, col_b: str, value: str, order=None, diagonal=np.nan
) -> pd.DataFrame:
    """Square, symmetric method x method matrix from a long (a, b, value) table.

    A pair given once in either direction fills both cells; the diagonal is
    ``diagonal`` unless the table gives it. Duplicate pairs are averaged (logged).
    """
    long = table[[col_a, col_b, value]].copy()
    long[col_a] = long[col_a].astype(str)
    long[col_b] = long[col_b].astype(str)
    both = pd.concat(
        [long, long.rename(columns={col_a: col_b, col_b: col_a})[[col_a, col_b, value]]]
    )
    # the mirrored copy of a pair given in both directions doubles it: keep one per direction
    both = both.groupby([col_a, col_b], sort=False)[value].mean()
    n_dup = long.duplicated([col_a, col_b]).sum()
    if n_dup:
        logger.warning("%d duplicated (%s, %s) pairs averaged", n_dup, col_a, col_b)
    names = order or list(dict.fromkeys([*long[col_a], *long[col_b]]))
    matrix = both.unstack().reindex(index=names, columns=names).astype(float)
    for name in names:
        if np.isnan(matrix.loc[name, name]):
            matrix.loc[name, name] = diagonal
    return matrix


def annotated_heatmap(
    ax, matrix: pd.DataFrame, cmap: str, vmin: float, vmax: float, fmt: str = "{:.2f}", labeller=str
):
    """Draw ``matrix`` as a heatmap with each cell's value written in it; returns the image."""
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax)
    n_rows, n_cols = values.shape
    ax.set_xticks(range(n_cols), [labeller(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(n_rows), [labeller(r) for r in matrix.index])
    # fewer cells -> bigger text; keeps annotations inside their cells
    fontsize = max(5.0, min(9.0, 60.0 / max(n_rows, n_cols)))
    norm = image.norm
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isnan(v):
                continue
            shade = image.cmap(norm(v))
            luminance = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
            ax.text(
                j,
                i,
                fmt.format(v),
                ha="center",
                va="center",
                fontsize=fontsize,
                color="black" if luminance > 0.5 else "white",
            )
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    return image


# ----------------------------------------------------------------------------- text labels
def annotate_points(ax, x, y, labels, fontsize: float = 8.0) -> None:
    """Write ``labels`` next to points, nudging labels apart so they do not overlap.

    Greedy placement in axes-fraction coordinates: each label starts up-right of
    its point and moves down in small steps while it overlaps an earlier label.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    fx = (x - x0) / (x1 - x0)
    fy = (y - y0) / (y1 - y0)
    height = 0.055 * fontsize / 8.0
    placed: list[tuple[float, float, float]] = []
    for i in np.argsort(-fy, kind="stable"):
        text = str(labels[i])
        width = 0.018 * len(text) * fontsize / 8.0
        # left-anchored text: keep it inside the axes on the right
        tx = min(fx[i] + 0.02, 0.98 - width)
        ty = fy[i] + 0.02
        for _ in range(60):
            clash = any(
                tx < px + pw and px < tx + width and abs(ty - py) < height for px, py, pw in placed
            )
            if not clash:
                break
            ty -= height / 2
        placed.append((tx, ty, width))
        ax.annotate(
            text,
            xy=(x[i], y[i]),
            xytext=(tx, ty),
            textcoords="axes fraction",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.5},
        )
