"""Fig. 1b-d: cell and feature embeddings of the 8-gene toy data set."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from ._style import METHOD_COLORS, category_colors
from ._utils import (
    annotate_points,
    new_figure,
    outside_legend,
    point_size,
    rasterize,
    require_adata_key,
    save_figure,
    two_columns,
)


def _expression(adata, gene: str, layer: str | None, what: str) -> np.ndarray:
    """Dense expression vector (n_cells,) of ``gene`` from ``adata.X`` or ``layer``."""
    if gene not in adata.var_names:
        raise ValueError(
            f"{what}: gene {gene!r} not in var_names (first: {list(adata.var_names[:5])})"
        )
    if layer is not None:
        require_adata_key(adata, "layers", layer, what)
    column = adata[:, gene].X if layer is None else adata[:, gene].layers[layer]
    column = column.toarray() if hasattr(column, "toarray") else np.asarray(column)
    return column.ravel().astype(float)


def plot_fig1b(adata, path_png, obsm_key: str = "X_sivae", dims=(0, 1)):
    """Fig. 1b: siVAE cell-embedding space of the toy data.

    Parameters
    ----------
    adata
        Model output AnnData with ``obsm[obsm_key]`` (n_cells, K >= 2).
    path_png
        Output ``.png``; a ``.pdf`` with the same stem is written next to it.
    obsm_key
        Cell embedding key (default ``"X_sivae"``).
    dims
        Two 0-based embedding dimensions to plot.
    """
    what = "Fig. 1b AnnData"
    require_adata_key(adata, "obsm", obsm_key, what)
    xy = two_columns(adata.obsm[obsm_key], obsm_key, dims, what)
    fig, axes = new_figure(panel_size=(3.6, 3.4))
    ax = axes[0, 0]
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=point_size(len(xy)),
        rasterized=rasterize(len(xy)),
        color=METHOD_COLORS["siVAE"],
        alpha=0.6,
        linewidths=0,
    )
    ax.set_xlabel(f"cell embedding dim {dims[0] + 1}")
    ax.set_ylabel(f"cell embedding dim {dims[1] + 1}")
    ax.set_title(f"Cell embedding ({adata.n_obs} cells)")
    return save_figure(fig, path_png)


def plot_fig1c(
    adata,
    path_png,
    gene: str | None = None,
    obsm_key: str = "X_sivae",
    layer: str | None = None,
    dims=(0, 1),
    cmap: str = "viridis",
):
    """Fig. 1c: cell embedding coloured by the expression of one gene.

    Parameters
    ----------
    adata
        AnnData with ``obsm[obsm_key]`` and expression in ``X`` (or ``layers[layer]``).
    gene
        Gene to overlay; default the first var_name ("gene 1" of the toy data).
    layer
        Expression layer; default ``X`` (the centred/scaled model input).
    """
    what = "Fig. 1c AnnData"
    require_adata_key(adata, "obsm", obsm_key, what)
    gene = str(adata.var_names[0]) if gene is None else gene
    expression = _expression(adata, gene, layer, what)
    xy = two_columns(adata.obsm[obsm_key], obsm_key, dims, what)
    fig, axes = new_figure(panel_size=(4.2, 3.4))
    ax = axes[0, 0]
    order = np.argsort(expression)  # high values drawn last, on top
    points = ax.scatter(
        xy[order, 0],
        xy[order, 1],
        c=expression[order],
        s=point_size(len(xy)),
        rasterized=rasterize(len(xy)),
        cmap=cmap,
        linewidths=0,
    )
    fig.colorbar(points, ax=ax, label=f"{gene} expression ({layer or 'model input X'})")
    ax.set_xlabel(f"cell embedding dim {dims[0] + 1}")
    ax.set_ylabel(f"cell embedding dim {dims[1] + 1}")
    ax.set_title(f"Cells coloured by {gene}")
    return save_figure(fig, path_png)


def plot_fig1d(
    adata,
    path_png,
    varm_key: str = "sivae_loadings",
    module_key: str = "module",
    dims=(0, 1),
    label_genes: bool | None = None,
):
    """Fig. 1d: siVAE feature-embedding space (loadings), genes coloured by module.

    Parameters
    ----------
    adata
        AnnData with ``varm[varm_key]`` (n_genes, K >= 2) and ``var[module_key]``.
    label_genes
        Write gene names next to points; default when there are at most 30 genes.
    """
    what = "Fig. 1d AnnData"
    require_adata_key(adata, "varm", varm_key, what)
    require_adata_key(adata, "var", module_key, what)
    xy = two_columns(adata.varm[varm_key], varm_key, dims, what)
    modules = adata.var[module_key].astype(str).to_numpy()
    colours = category_colors(modules)
    fig, axes = new_figure(panel_size=(3.8, 3.4), extra_width=1.4)
    ax = axes[0, 0]
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    for module, colour in colours.items():
        mask = modules == module
        ax.scatter(xy[mask, 0], xy[mask, 1], s=40, color=colour, edgecolors="black", linewidths=0.4)
    # symmetric limits keep the origin in the middle: distance from it is the point of the panel
    lim = 1.25 * max(np.abs(xy).max(), 1e-6)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    if label_genes is None:
        label_genes = adata.n_vars <= 30
    if label_genes:
        annotate_points(ax, xy[:, 0], xy[:, 1], list(adata.var_names))
    ax.set_xlabel(f"feature embedding dim {dims[0] + 1}")
    ax.set_ylabel(f"feature embedding dim {dims[1] + 1}")
    ax.set_title("Feature embedding (loadings)")
    handles = [
        Line2D([], [], ls="", marker="o", color=c, markeredgecolor="black", markeredgewidth=0.4)
        for c in colours.values()
    ]
    outside_legend(fig, handles, list(colours), title=module_key)
    return save_figure(fig, path_png)
