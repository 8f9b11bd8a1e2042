"""Fig. 4: co-expressed genes co-localise in the feature embedding space."""

from __future__ import annotations

import logging

import numpy as np
from matplotlib.lines import Line2D

from ._style import NEUTRAL_GREY, category_colors, natural_sorted
from ._utils import (
    legend_width,
    new_figure,
    outside_legend,
    point_size,
    rasterize,
    require_adata_key,
    save_figure,
    two_columns,
)

logger = logging.getLogger(__name__)

_MARKER_TITLES = {
    "labels": "from the data's labels (default)",
    "gmt": "from a GMT gene-set file",
}


def plot_fig4b(
    adata,
    path_png,
    varm_key: str = "sivae_loadings",
    community_key: str = "community",
    hub_key: str = "is_hub",
    dims=(0, 1),
):
    """Fig. 4b: feature embedding of the hub-network simulation.

    Genes are coloured by community, isolated genes (community -1) grey, hubs drawn
    as large stars.

    Parameters
    ----------
    adata
        Model output AnnData with ``varm[varm_key]`` (n_genes, K >= 2),
        ``var[community_key]`` (int, -1 isolated) and ``var[hub_key]`` (bool).
    """
    what = "Fig. 4b AnnData"
    require_adata_key(adata, "varm", varm_key, what)
    require_adata_key(adata, "var", community_key, what)
    require_adata_key(adata, "var", hub_key, what)
    xy = two_columns(adata.varm[varm_key], varm_key, dims, what)
    community = adata.var[community_key].to_numpy()
    is_hub = adata.var[hub_key].to_numpy().astype(bool)
    communities = sorted(c for c in set(community.tolist()) if c != -1)
    colours = category_colors([f"community {c}" for c in communities])
    fig, axes = new_figure(panel_size=(4.0, 3.6), extra_width=1.5)
    ax = axes[0, 0]
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    isolated = community == -1
    handles, labels = [], []
    if isolated.any():
        ax.scatter(xy[isolated, 0], xy[isolated, 1], s=10, color=NEUTRAL_GREY, linewidths=0)
        handles.append(Line2D([], [], ls="", marker="o", color=NEUTRAL_GREY))
        labels.append("isolated")
    for c in communities:
        colour = colours[f"community {c}"]
        mask = (community == c) & ~is_hub
        ax.scatter(xy[mask, 0], xy[mask, 1], s=10, color=colour, linewidths=0)
        hubs = (community == c) & is_hub
        ax.scatter(
            xy[hubs, 0],
            xy[hubs, 1],
            s=180,
            marker="*",
            color=colour,
            edgecolors="black",
            linewidths=0.7,
            zorder=4,
        )
        handles.append(Line2D([], [], ls="", marker="o", color=colour))
        labels.append(f"community {c}")
    handles.append(
        Line2D([], [], ls="", marker="*", color="white", markeredgecolor="black", markersize=10)
    )
    labels.append("hub")
    ax.set_xlabel(f"feature embedding dim {dims[0] + 1}")
    ax.set_ylabel(f"feature embedding dim {dims[1] + 1}")
    ax.set_title(f"Feature embedding, {adata.n_vars} genes")
    outside_legend(fig, handles, labels)
    return save_figure(fig, path_png)


def plot_fig4c(adata, path_png, label_key: str, obsm_key: str = "X_sivae", dims=(0, 1), seed=0):
    """Fig. 4c: siVAE cell embedding coloured by cell type ``obs[label_key]``."""
    what = "Fig. 4c AnnData"
    require_adata_key(adata, "obsm", obsm_key, what)
    require_adata_key(adata, "obs", label_key, what)
    xy = two_columns(adata.obsm[obsm_key], obsm_key, dims, what)
    labels = adata.obs[label_key].astype(str).to_numpy()
    colours = category_colors(natural_sorted(labels))
    order = np.random.default_rng(seed).permutation(adata.n_obs)
    fig, axes = new_figure(panel_size=(3.8, 3.6), extra_width=legend_width(colours, label_key))
    ax = axes[0, 0]
    ax.scatter(
        xy[order, 0],
        xy[order, 1],
        c=[colours[v] for v in labels[order]],
        s=point_size(len(xy)),
        rasterized=rasterize(len(xy)),
        linewidths=0,
    )
    ax.set_xlabel(f"cell embedding dim {dims[0] + 1}")
    ax.set_ylabel(f"cell embedding dim {dims[1] + 1}")
    ax.set_title(f"Cell embedding, {adata.n_obs} cells")
    handles = [Line2D([], [], ls="", marker="o", color=c) for c in colours.values()]
    outside_legend(fig, handles, list(colours), title=label_key)
    return save_figure(fig, path_png)


def plot_fig4d(
    adata,
    path_png,
    markers: dict,
    varm_key: str = "sivae_loadings",
    markers_source: str = "labels",
    dims=(0, 1),
    label_key: str | None = None,
):
    """Fig. 4d: feature embedding of marker genes, coloured by the cell type they mark.

    All other genes are drawn small and grey for context.

    Parameters
    ----------
    markers
        ``{cell_type: [gene, ...]}``. Genes absent from ``var_names`` are skipped
        (logged); a gene marking several cell types is drawn once per type.
    markers_source
        ``"labels"`` (markers derived from the data's labels, the embedded default)
        or ``"gmt"`` (markers read from a gene-set file); sets the title.
    label_key
        ``obs`` column of the cell types. If given, colours follow every label of that
        column, exactly as in :func:`plot_fig4c`; else the cell types of ``markers``.
        Either way colours and legend follow the natural sort of the labels, whatever
        the order of ``markers``, so a cell type has the same colour in Fig. 4c and 4d.
    """
    what = "Fig. 4d AnnData"
    if markers_source not in _MARKER_TITLES:
        raise ValueError(
            f"{what}: markers_source must be 'labels' or 'gmt', got {markers_source!r}"
        )
    if not isinstance(markers, dict) or not markers:
        raise ValueError(f"{what}: markers must be a non-empty dict {{cell_type: [genes]}}")
    require_adata_key(adata, "varm", varm_key, what)
    xy = two_columns(adata.varm[varm_key], varm_key, dims, what)
    index = {g: i for i, g in enumerate(map(str, adata.var_names))}
    markers = {str(k): v for k, v in markers.items()}
    if label_key is not None:
        require_adata_key(adata, "obs", label_key, what)
        colours = category_colors(natural_sorted(adata.obs[label_key].astype(str)))
        unknown = sorted(set(markers) - set(colours))
        if unknown:
            raise ValueError(
                f"{what}: marker cell type(s) {unknown} are not values of obs[{label_key!r}]"
            )
    else:
        colours = category_colors(natural_sorted(markers))
    legend_labels = [f"{c} (000)" for c in markers]
    fig, axes = new_figure(panel_size=(4.0, 3.6), extra_width=legend_width(legend_labels))
    ax = axes[0, 0]
    ax.scatter(xy[:, 0], xy[:, 1], s=3, color="0.88", linewidths=0, zorder=0)
    handles, labels = [], []
    n_drawn = 0
    for cell_type in natural_sorted(markers):
        genes = [str(g) for g in markers[cell_type]]
        found = [index[g] for g in genes if g in index]
        absent = [g for g in genes if g not in index]
        if absent:
            logger.warning(
                "%s: %d marker(s) of %r not in var_names, skipped: %s",
                what,
                len(absent),
                cell_type,
                ", ".join(absent[:10]),
            )
        if not found:
            continue
        colour = colours[cell_type]
        ax.scatter(
            xy[found, 0], xy[found, 1], s=22, color=colour, edgecolors="black", linewidths=0.3
        )
        handles.append(Line2D([], [], ls="", marker="o", color=colour))
        labels.append(f"{cell_type} ({len(found)})")
        n_drawn += len(found)
    if n_drawn == 0:
        raise ValueError(f"{what}: none of the marker genes is in var_names")
    ax.set_xlabel(f"feature embedding dim {dims[0] + 1}")
    ax.set_ylabel(f"feature embedding dim {dims[1] + 1}")
    # two short lines: one long line ran past the axes into the legend title
    ax.set_title(f"Marker genes\n{_MARKER_TITLES[markers_source]}", fontsize="medium")
    outside_legend(fig, handles, labels, title="cell type (n genes)")
    return save_figure(fig, path_png)
