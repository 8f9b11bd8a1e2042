"""Small real datasets shipped with scanpy and scikit-learn (no network needed)."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["pbmc68k_reduced", "digits"]


def pbmc68k_reduced() -> ad.AnnData:
    """700 PBMCs × 765 genes from 10x's 68k PBMC data, as shipped with scanpy.

    scanpy's copy keeps only processed values, so the layers are rebuilt:

    - ``X``: scanpy's regressed-out and scaled values (float32, dense), as shipped;
    - ``layers["lognorm"]``: the ``.raw`` values, ``log1p`` of counts per 10⁴;
    - ``layers["counts"]``: counts recovered as
      ``round(expm1(lognorm) · obs["n_counts"] / 1e4)`` (exact to within 0.1
      before rounding on this file). Only 765 genes are kept, so per-cell sums
      of these counts are below ``obs["n_counts"]``.

    Cell-type label: ``obs["bulk_labels"]`` (10 types). ``.raw`` is dropped.

    Returns
    -------
    AnnData ``(700, 765)``.
    """
    import scanpy as sc

    shipped = sc.datasets.pbmc68k_reduced()
    lognorm = shipped.raw.to_adata()[:, shipped.var_names].X
    lognorm = np.asarray(lognorm.toarray() if hasattr(lognorm, "toarray") else lognorm)
    lognorm = lognorm.astype(np.float64)
    counts = np.rint(np.expm1(lognorm) * shipped.obs["n_counts"].to_numpy()[:, None] / 1e4)

    adata = ad.AnnData(
        X=np.asarray(shipped.X, dtype=np.float32),
        obs=shipped.obs.copy(),
        var=shipped.var.copy(),
        uns={"bulk_labels_colors": shipped.uns.get("bulk_labels_colors")},
        obsm={k: np.asarray(v) for k, v in shipped.obsm.items()},
    )
    adata.layers["lognorm"] = lognorm.astype(np.float32)
    adata.layers["counts"] = counts.astype(np.float32)
    if adata.uns["bulk_labels_colors"] is None:
        del adata.uns["bulk_labels_colors"]
    return adata


def digits() -> ad.AnnData:
    """scikit-learn's 8×8 handwritten digits: 1797 images × 64 pixels.

    Returns
    -------
    AnnData with float32 ``X`` (pixel intensities 0–16), ``obs["label"]``
    (categorical digit ``"0"``–``"9"``), var_names ``"px0".."px63"``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    obs = pd.DataFrame(
        {"label": pd.Categorical(bunch.target.astype(str), categories=[str(d) for d in range(10)])},
        index=pd.Index([f"img{i}" for i in range(bunch.data.shape[0])]),
    )
    var = pd.DataFrame(index=pd.Index([f"px{i}" for i in range(bunch.data.shape[1])]))
    return ad.AnnData(X=bunch.data.astype(np.float32), obs=obs, var=var)
