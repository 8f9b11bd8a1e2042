"""Preprocessing, scanpy style: each function takes an AnnData, modifies it in
place and returns it (``copy=True`` works on a copy instead).

The steps follow the paper's Methods ("Datasets"): QC filters, total-count
normalisation to 10⁴ and ``log1p``, selection of the most variable genes
(optionally the union over groups, as for NeurDiff and SEA-AD), regression of
batch and cell-cycle covariates, stratified downsampling, a stratified
train/test split, per-gene centring and scaling, and equal-sized bins of cells
per group for the cohort analyses.

Large sparse matrices stay sparse: :func:`scale` with ``scale=False`` only
stores ``var["mean"]`` and ``var["std"]`` so the model can standardise each
minibatch on the device.
"""

from __future__ import annotations

import logging

import anndata as ad

from ._bins import make_bins, write_bins
from ._cells import downsample, filter_groups, scale, split
from ._common import gene_mean_var
from ._covariates import CELL_CYCLE_GENES, regress_out, score_cell_cycle
from ._qc import hvg, normalize, qc

logger = logging.getLogger(__name__)

__all__ = [
    "preprocess",
    "STEP_ORDER",
    "filter_groups",
    "qc",
    "normalize",
    "hvg",
    "regress_out",
    "score_cell_cycle",
    "CELL_CYCLE_GENES",
    "downsample",
    "split",
    "scale",
    "make_bins",
    "write_bins",
    "gene_mean_var",
]


#: Order in which :func:`preprocess` applies its steps (the paper's order).
STEP_ORDER = (
    "qc",
    "normalize",
    "filter_groups",
    "cell_cycle",
    "regress_out",
    "hvg",
    "downsample",
    "split",
    "scale",
)


def preprocess(adata: ad.AnnData, steps: dict, dataset: str = "data") -> ad.AnnData:
    """Apply the configured steps in :data:`STEP_ORDER`, each with its keyword arguments.

    Parameters
    ----------
    steps
        ``{step name: kwargs}``; a step that is absent, ``None`` or ``False``
        is skipped and ``True`` means its defaults. E.g.
        ``{"qc": {"min_genes": 200, "max_mito": 0.2}, "normalize": True,
        "hvg": {"n_top_genes": 2000}, "scale": True}``.

    Returns
    -------
    The preprocessed AnnData (``adata`` is modified in place).

    Raises
    ------
    ValueError
        For an unknown step name, naming the valid ones.
    """
    unknown = sorted(set(steps) - set(STEP_ORDER))
    if unknown:
        raise ValueError(
            f"dataset {dataset!r}: unknown preprocessing step(s) {unknown}; "
            f"valid steps: {list(STEP_ORDER)}"
        )
    functions = {
        "qc": qc,
        "normalize": normalize,
        "filter_groups": filter_groups,
        "cell_cycle": score_cell_cycle,
        "regress_out": regress_out,
        "hvg": hvg,
        "downsample": downsample,
        "split": split,
        "scale": scale,
    }
    for name in STEP_ORDER:
        options = steps.get(name)
        if options is None or options is False:
            continue
        kwargs = {} if options is True else dict(options)
        kwargs.setdefault("dataset", dataset)
        logger.info("%s: preprocessing step %s %s", dataset, name, kwargs)
        adata = functions[name](adata, **kwargs)
    return adata
