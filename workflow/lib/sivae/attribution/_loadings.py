"""From per-cell attributions to loadings, and agreement between loadings (Fig. 3a).

Paper rule (Methods, "Feature embeddings for feature attribution methods and
Gene Relevance"): for each embedding dimension ``d`` take the cells × genes
attribution matrix ``S_d``, run PCA, and keep the first principal component's
loadings, scaled as in the original code: ``components_[0] * sqrt(explained_variance_[0])``.
Stacking the ``K`` vectors gives ``U`` (genes × K), comparable with siVAE's
loadings; agreement is the Spearman correlation per dimension, summarised by the
median over dimensions.

The sign of a principal component is arbitrary, and a flipped sign turns a
Spearman correlation of 1 into -1. Each column is therefore oriented so that
``U[:, d] · r_d > 0`` for a reference ``r``: by default the mean attribution over
cells, or any ``(genes, K)`` matrix passed as ``sign_reference``. For decoder
attributions the natural reference is the mean decoder gradient
(``jacobian(decoder, z).mean(axis=0)``): a positive loading then means the gene
rises with the coordinate, the convention of siVAE's loadings. This matters for
input-multiplied methods (grad × input, DeepLIFT, integrated gradients, Shapley):
with centred embeddings their mean attribution is near zero and gives the sign
little to go on.

Centring (the paper's PCA) keeps only how attributions vary over cells and drops
their mean. For a near-linear map, whose attributions hardly vary, the first
component is then mostly noise; ``center=False`` (uncentred SVD) keeps the mean
and serves as a sensitivity check.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from scipy import linalg, stats

logger = logging.getLogger(__name__)

__all__ = [
    "LAYOUTS",
    "pca_loading",
    "attribution_loadings",
    "agreement_table",
    "agreement_matrix",
]

#: Accepted attribution array layouts and what their axes mean.
LAYOUTS = {
    # attribute()/forward_attribute() on a decoder: outputs are genes, inputs are dims
    "decoder": "(n_genes outputs, n_cells, K inputs)",
    # attribute()/forward_attribute() on an encoder: outputs are dims, inputs are genes
    "encoder": "(K outputs, n_cells, n_genes inputs)",
    # gene_relevance() and jacobian() of a decoder
    "cell_gene_dim": "(n_cells, n_genes, K)",
}


def pca_loading(matrix: np.ndarray, center: bool = True) -> tuple[np.ndarray, float]:
    """First principal component loadings of a cells × genes matrix, scaled.

    Parameters
    ----------
    matrix
        ``(n_cells, n_genes)``.
    center
        Centre columns first, as ``sklearn.decomposition.PCA`` does (paper rule).
        ``False`` keeps the mean attribution in the component (uncentred SVD).

    Returns
    -------
    loading
        ``(n_genes,)`` equal to ``components_[0] * sqrt(explained_variance_[0])``
        of a one-component PCA, up to sign (orientation is the caller's job).
    explained_variance
        Variance of the first component (ddof 1; second moment if not centred).
    """
    x = np.asarray(matrix, dtype=np.float64)
    n_cells, n_genes = x.shape
    if n_cells < 2:
        raise ValueError(f"PCA needs at least 2 cells, got {n_cells}")
    if center:
        x = x - x.mean(axis=0)
    # Top eigenpair of the smaller Gram matrix: exact, and far cheaper than a full
    # SVD for thousands of genes.
    if n_genes <= n_cells:
        cov = x.T @ x / (n_cells - 1)
        vals, vecs = linalg.eigh(cov, subset_by_index=[n_genes - 1, n_genes - 1])
        variance = max(float(vals[0]), 0.0)
        direction = vecs[:, 0]
    else:
        gram = x @ x.T / (n_cells - 1)
        vals, vecs = linalg.eigh(gram, subset_by_index=[n_cells - 1, n_cells - 1])
        variance = max(float(vals[0]), 0.0)
        direction = x.T @ vecs[:, 0]
        norm = np.linalg.norm(direction)
        direction = direction / norm if norm > 0 else direction
    return direction * np.sqrt(variance), variance


def _per_dimension_matrices(attributions: np.ndarray, layout: str):
    """Yield the (n_cells, n_genes) attribution matrix of each embedding dimension."""
    if layout == "decoder":
        for d in range(attributions.shape[2]):
            yield attributions[:, :, d].T
    elif layout == "encoder":
        for d in range(attributions.shape[0]):
            yield attributions[d]
    else:
        for d in range(attributions.shape[2]):
            yield attributions[:, :, d]


def attribution_loadings(
    attributions,
    layout: str = "decoder",
    sign_reference: np.ndarray | None = None,
    center: bool = True,
) -> np.ndarray:
    """Loadings ``U`` (genes × K) from per-cell attributions, by the paper's PCA rule.

    Parameters
    ----------
    attributions
        3-D array in one of :data:`LAYOUTS`: ``"decoder"`` ``(F, C, K)`` as returned by
        :func:`attribute` on ``model.cell_decoder``; ``"encoder"`` ``(K, C, F)`` from
        ``model.cell_encoder_mean``; ``"cell_gene_dim"`` ``(C, F, K)`` from
        :func:`gene_relevance` or :func:`jacobian` of a decoder.
    layout
        Key of :data:`LAYOUTS`.
    sign_reference
        Optional ``(F, K)``; column ``d`` of the result is flipped so that its dot
        product with ``sign_reference[:, d]`` is positive. Default: the mean
        attribution over cells. If that dot product is zero, the entry of largest
        magnitude is made positive.
    center
        ``True`` (paper rule): PCA on column-centred attributions, so only the
        variation of attributions over cells counts and their mean is discarded.
        ``False``: uncentred first singular vector, which keeps the mean; useful as
        a sensitivity check for near-linear maps, whose attributions barely vary
        over cells.

    Returns
    -------
    np.ndarray
        ``(F, K)`` float64 loadings.

    Notes
    -----
    Non-finite attributions (Gene Relevance's undefined partials) are set to 0
    with a warning. A dimension whose attributions do not vary over cells (e.g.
    the saliency of a purely linear decoder) has no first component: its loadings
    are 0, with a warning.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {list(LAYOUTS)}")
    a = np.asarray(attributions, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(
            f"attributions must be 3-D {LAYOUTS[layout]} for layout {layout!r}, got shape {a.shape}"
        )
    bad = ~np.isfinite(a)
    if bad.any():
        logger.warning(
            "attribution_loadings: setting %d non-finite attributions (of %d) to 0",
            int(bad.sum()),
            a.size,
        )
        a = np.where(bad, 0.0, a)
    matrices = list(_per_dimension_matrices(a, layout))
    n_genes = matrices[0].shape[1]
    n_dims = len(matrices)
    if sign_reference is not None:
        sign_reference = np.asarray(sign_reference, dtype=np.float64)
        if sign_reference.shape != (n_genes, n_dims):
            raise ValueError(
                f"sign_reference must have shape (n_genes, K) = {(n_genes, n_dims)}, "
                f"got {sign_reference.shape}"
            )

    loadings = np.empty((n_genes, n_dims))
    for d, s in enumerate(matrices):
        u, variance = pca_loading(s, center=center)
        # Mean squared row norm bounds the top eigenvalue: a relative floor for "none".
        scale = float((s**2).sum(axis=1).mean())
        if variance <= 1e-12 * max(scale, np.finfo(float).tiny):
            logger.warning(
                "attribution_loadings: dimension %d has no %s; loadings set to 0",
                d,
                "variation over cells" if center else "nonzero attribution",
            )
            loadings[:, d] = 0.0
            continue
        ref = s.mean(axis=0) if sign_reference is None else sign_reference[:, d]
        alignment = float(u @ ref)
        if alignment == 0.0:
            alignment = u[np.argmax(np.abs(u))]
        loadings[:, d] = u if alignment > 0 else -u
    return loadings


def _check_loadings(loadings: dict) -> dict[str, np.ndarray]:
    if not isinstance(loadings, dict) or not loadings:
        raise ValueError("loadings must be a non-empty dict {method name: (n_genes, K) array}")
    arrays = {}
    shape = None
    for name, value in loadings.items():
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"loadings of {name!r} must be (n_genes, K), got shape {arr.shape}")
        if shape is None:
            shape, first = arr.shape, name
        elif arr.shape != shape:
            raise ValueError(
                f"loadings of {name!r} have shape {arr.shape} but {first!r} has {shape}; "
                "all methods must cover the same genes and dimensions"
            )
        arrays[str(name)] = arr
    return arrays


def agreement_table(loadings: dict) -> pd.DataFrame:
    """Spearman correlation per dimension between every pair of loadings.

    Parameters
    ----------
    loadings
        ``{method: (n_genes, K)}`` (arrays or DataFrames, same genes in the same order).

    Returns
    -------
    pd.DataFrame
        Long form, one row per unordered pair and dimension: ``method_a``,
        ``method_b``, ``dimension`` (0-based), ``spearman``, ``p`` (two-sided).
        NaN where a loading column is constant.
    """
    arrays = _check_loadings(loadings)
    rows = []
    for a, b in itertools.combinations(arrays, 2):
        for d in range(arrays[a].shape[1]):
            rho, p = _spearman(arrays[a][:, d], arrays[b][:, d])
            rows.append({"method_a": a, "method_b": b, "dimension": d, "spearman": rho, "p": p})
    return pd.DataFrame(rows, columns=["method_a", "method_b", "dimension", "spearman", "p"])


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        logger.warning("agreement: a constant loading column has no Spearman correlation (NaN)")
        return float("nan"), float("nan")
    res = stats.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def agreement_matrix(loadings: dict, value: str = "spearman") -> pd.DataFrame:
    """Methods × methods median over dimensions of the per-dimension Spearman (Fig. 3a).

    Parameters
    ----------
    loadings
        ``{method: (n_genes, K)}``.
    value
        ``"spearman"`` (median correlation; diagonal 1) or ``"p"`` (median p-value;
        diagonal 0).

    Returns
    -------
    pd.DataFrame
        Symmetric, indexed and columned by method name in the dict's order.
    """
    if value not in ("spearman", "p"):
        raise ValueError(f"value must be 'spearman' or 'p', got {value!r}")
    arrays = _check_loadings(loadings)
    names = list(arrays)
    out = pd.DataFrame(np.nan, index=names, columns=names, dtype=float)
    for name in names:
        constant = all(np.ptp(arrays[name][:, d]) == 0 for d in range(arrays[name].shape[1]))
        out.loc[name, name] = np.nan if constant else (1.0 if value == "spearman" else 0.0)
    table = agreement_table(arrays)
    if not table.empty:
        med = table.groupby(["method_a", "method_b"], sort=False)[value].median()
        for (a, b), v in med.items():
            out.loc[a, b] = out.loc[b, a] = v
    return out
