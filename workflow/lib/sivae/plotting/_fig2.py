"""Fig. 2: accuracy of cell-embedding spaces (embeddings, k-NN accuracy, batch correction)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ._style import category_colors, method_color, method_label, method_order, natural_sorted
from ._utils import (
    grid_shape,
    hide_unused,
    new_figure,
    outside_legend,
    point_size,
    rasterize,
    require_adata_key,
    require_columns,
    save_figure,
)

logger = logging.getLogger(__name__)

#: Panel order of Fig. 2a (VAE, siVAE γ=0, siVAE, LDVAE-like); other variants follow.
FIG2A_ORDER = ("VAE", "siVAE_gamma0", "siVAE", "VAE_linear")


def _label_handles(colours: dict):
    return [Line2D([], [], ls="", marker="o", color=c) for c in colours.values()]


def plot_fig2a(embeddings: pd.DataFrame, path_png, variants=None, seed: int = 0):
    """Fig. 2a: 2-D cell embeddings, one subplot per model variant, coloured by label.

    Parameters
    ----------
    embeddings
        ``embeddings.tsv``: columns variant, cell, label, batch, dim1, dim2.
    variants
        Variants to show, in order; default VAE, siVAE_gamma0, siVAE, VAE_linear
        (those present) followed by any other variant in the table.
    seed
        Seed of the drawing order (cells are shuffled so no label hides another).
    """
    require_columns(
        embeddings, ["variant", "cell", "label", "batch", "dim1", "dim2"], "embeddings.tsv"
    )
    present = list(dict.fromkeys(embeddings["variant"].astype(str)))
    if variants is None:
        variants = [v for v in FIG2A_ORDER if v in present] + [
            v for v in present if v not in FIG2A_ORDER
        ]
    missing = [v for v in variants if v not in present]
    if missing:
        raise ValueError(f"embeddings.tsv: variant(s) {missing} not in table (has {present})")
    labels = embeddings["label"].astype(str)
    colours = category_colors(natural_sorted(labels))
    nrows, ncols = grid_shape(len(variants))
    fig, axes = new_figure(ncols, nrows, panel_size=(3.2, 3.0), extra_width=1.8)
    rng = np.random.default_rng(seed)
    for ax, variant in zip(axes.ravel(), variants, strict=False):
        rows = embeddings[embeddings["variant"].astype(str) == variant]
        order = rng.permutation(len(rows))
        ax.scatter(
            rows["dim1"].to_numpy()[order],
            rows["dim2"].to_numpy()[order],
            c=[colours[lab] for lab in rows["label"].astype(str).to_numpy()[order]],
            s=point_size(len(order)),
            rasterized=rasterize(len(order)),
            linewidths=0,
        )
        ax.set_title(method_label(variant))
        ax.set_xlabel("embedding dim 1")
        ax.set_ylabel("embedding dim 2")
    hide_unused(axes, len(variants))
    outside_legend(fig, _label_handles(colours), list(colours), title="cell type")
    return save_figure(fig, path_png)


def knn_summary(knn_accuracy: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of accuracy over folds per (k, variant); columns k, variant, mean, sd, n."""
    require_columns(knn_accuracy, ["variant", "k", "fold", "accuracy"], "knn_accuracy.tsv")
    return (
        knn_accuracy.assign(variant=knn_accuracy["variant"].astype(str))
        .groupby(["k", "variant"], sort=False)["accuracy"]
        .agg(mean="mean", sd="std", n="count")
        .reset_index()
    )


def plot_fig2b(knn_accuracy: pd.DataFrame, path_png, k=None):
    """Fig. 2b: balanced k-NN accuracy per variant, bars = mean ± sd over folds, dots = folds.

    Parameters
    ----------
    knn_accuracy
        ``knn_accuracy.tsv``: columns variant, k, fold, accuracy (balanced accuracy, 0-1).
    k
        Number of neighbours to show; default every k in the table, one subplot each.
    """
    summary = knn_summary(knn_accuracy)
    ks = sorted(summary["k"].unique()) if k is None else [k]
    if k is not None and k not in set(summary["k"]):
        raise ValueError(f"knn_accuracy.tsv: no rows with k={k} (has {sorted(summary['k'])})")
    variants = method_order(summary["variant"])
    fig, axes = new_figure(len(ks), 1, panel_size=(0.55 * len(variants) + 1.6, 3.4))
    for ax, k_value in zip(axes.ravel(), ks, strict=True):
        rows = summary[summary["k"] == k_value].set_index("variant").reindex(variants)
        x = np.arange(len(variants))
        ax.bar(
            x,
            rows["mean"],
            yerr=rows["sd"].fillna(0),
            color=[method_color(v) for v in variants],
            capsize=3,
            edgecolor="black",
            linewidth=0.5,
        )
        folds = knn_accuracy[knn_accuracy["k"] == k_value]
        for i, variant in enumerate(variants):
            values = folds.loc[folds["variant"].astype(str) == variant, "accuracy"]
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
            ax.scatter(i + np.asarray(jitter), values, s=8, color="black", zorder=3)
        ax.set_xticks(x, [method_label(v) for v in variants], rotation=45, ha="right")
        ax.set_ylabel("balanced accuracy (fraction)")
        ax.set_ylim(0, 1)
        ax.set_title(f"k-NN (k={k_value}), mean ± sd over folds")
    return save_figure(fig, path_png)


def _embed_2d(adata, rep: str | None, method: str, seed: int, what: str) -> np.ndarray:
    """2-D coordinates of the cells from ``obsm[rep]`` (or X if None) by UMAP, t-SNE or as is."""
    import anndata as ad
    import scanpy as sc

    if method not in ("umap", "tsne", "none"):
        raise ValueError(f"{what}: method must be 'umap', 'tsne' or 'none', got {method!r}")
    if rep is None:
        matrix = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
        name = "X"
    else:
        require_adata_key(adata, "obsm", rep, what)
        matrix = np.asarray(adata.obsm[rep])
        name = rep
    matrix = np.asarray(matrix, dtype=np.float32)
    if method == "none":
        if matrix.shape[1] < 2:
            raise ValueError(f"{what}: {name} has {matrix.shape[1]} column(s); need 2")
        return matrix[:, :2]
    work = ad.AnnData(np.zeros((adata.n_obs, 0), dtype=np.float32))
    work.obsm["X_rep"] = matrix
    if matrix.shape[1] > 50:
        # neighbours on >50 raw genes are noisy and slow; scanpy's usual PCA first
        n_comps = min(50, matrix.shape[0] - 1, matrix.shape[1] - 1)
        work.obsm["X_rep"] = sc.pp.pca(matrix, n_comps=n_comps, random_state=seed)
        logger.info("%s: %s reduced to %d PCs before %s", what, name, n_comps, method)
    if method == "umap":
        sc.pp.neighbors(work, use_rep="X_rep", n_neighbors=15, random_state=seed)
        sc.tl.umap(work, random_state=seed)
        return work.obsm["X_umap"]
    perplexity = min(30.0, (adata.n_obs - 1) / 3.0)
    sc.tl.tsne(work, use_rep="X_rep", random_state=seed, perplexity=perplexity)
    return work.obsm["X_tsne"]


_METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "none": "embedding dim"}


def plot_fig2cd(
    adata,
    path_png,
    label_key: str,
    batch_key: str,
    uncorrected_rep: str | None = None,
    corrected_rep: str = "X_sivae",
    uncorrected_method: str = "umap",
    corrected_method: str = "tsne",
    seed: int = 0,
):
    """Fig. 2c-d: cells before and after siVAE batch correction, by label and by batch.

    Left column: the uncorrected data (``obsm[uncorrected_rep]`` or ``X`` when None,
    PCA first if it has >50 columns), laid out by UMAP. Right column: siVAE trained
    with the batch as covariate (``obsm[corrected_rep]``), laid out by t-SNE as in the
    paper (``"none"`` plots its first two dimensions). Top row coloured by label,
    bottom row by batch. ``adata`` is not modified.
    """
    what = "Fig. 2c-d AnnData"
    require_adata_key(adata, "obs", label_key, what)
    require_adata_key(adata, "obs", batch_key, what)
    # check every argument before the (slow) layouts are computed
    for rep, method in ((uncorrected_rep, uncorrected_method), (corrected_rep, corrected_method)):
        if method not in _METHOD_NAMES:
            raise ValueError(f"{what}: method must be 'umap', 'tsne' or 'none', got {method!r}")
        if rep is not None:
            require_adata_key(adata, "obsm", rep, what)
    layouts = [
        (
            _embed_2d(adata, uncorrected_rep, uncorrected_method, seed, what),
            f"Uncorrected ({uncorrected_rep or 'X'})",
            uncorrected_method,
        ),
        (
            _embed_2d(adata, corrected_rep, corrected_method, seed, what),
            "siVAE, batch-corrected",
            corrected_method,
        ),
    ]
    fig, axes = new_figure(2, 2, panel_size=(3.3, 3.1), extra_width=1.8)
    rng = np.random.default_rng(seed)
    order = rng.permutation(adata.n_obs)
    for row, key in enumerate((label_key, batch_key)):
        values = adata.obs[key].astype(str).to_numpy()
        colours = category_colors(natural_sorted(values))
        for col, (xy, title, method) in enumerate(layouts):
            ax = axes[row, col]
            ax.scatter(
                xy[order, 0],
                xy[order, 1],
                c=[colours[v] for v in values[order]],
                s=point_size(len(order)),
                rasterized=rasterize(len(order)),
                linewidths=0,
            )
            name = _METHOD_NAMES[method]
            ax.set_xlabel(f"{name} 1")
            ax.set_ylabel(f"{name} 2")
            ax.set_title(f"{title}\ncoloured by {key}", fontsize="medium")
        axes[row, 1].legend(
            _label_handles(colours),
            list(colours),
            title=key,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            frameon=False,
            fontsize="small",
            ncol=max(1, int(np.ceil(len(colours) / 12))),
        )
    return save_figure(fig, path_png)
