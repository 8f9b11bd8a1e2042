"""Rule `preprocess`: raw.h5ad -> preprocessed.h5ad, following datasets.<name>.preprocess.

Order (paper Methods, Data availability): QC filters, total-count normalisation and
log1p, S and G2/M cell-cycle scores (``cell_cycle``), regress_out of batch and
cell-cycle keys (per group when the dataset has groups, as for NeurDiff and SEA-AD),
selection of the most variable genes (union over groups when ``hvg.per_group``),
stratified downsampling, stratified train/test split (``obs["split"]``), per-gene
centring and scaling (``var["mean"]``, ``var["std"]``).
With a ``group_key``, the log-normalised mean of each gene per group is kept in
``varm["group_mean_expression"]`` (genes × groups) before any regression.
"""

import sys
from pathlib import Path

import pandas as pd

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import atomic_write_h5ad, check_adata, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])

dataset = snakemake.wildcards.dataset
entry = snakemake.params.entry
opts = entry["preprocess"]
seed = snakemake.params.seed
label_key, group_key = entry["label_key"], entry["group_key"]
pp = sivae.pp

adata = read_h5ad_checked(snakemake.input[0], dataset)
keys = [entry[k] for k in ("label_key", "batch_key", "group_key", "phenotype_key")]
# cell-cycle scores are made below, so they need not be in the input
scores = {"S_score", "G2M_score", "phase"} if opts["cell_cycle"] else set()
regressed = [k for k in opts["regress_out"] if k not in scores]
check_adata(adata, dataset=dataset, keys=keys + regressed)

for key, values in opts["subset"].items():
    check_adata(adata, dataset=dataset, keys=[key])
    keep = adata.obs[key].isin(values).to_numpy()
    logger.info(
        "%s: subset %s in %s keeps %d of %d cells", dataset, key, values, keep.sum(), keep.size
    )
    if not keep.any():
        raise ValueError(f"dataset {dataset!r}: preprocess.subset {key}={values} keeps no cell")
    adata = adata[keep].copy()

qc = opts["qc"]
if qc["min_genes"] or qc["min_cells"] or qc["max_genes"] or qc["max_mito"] is not None:
    pp.qc(adata, dataset=dataset, **qc)
else:
    logger.info("%s: no QC filters configured", dataset)
if opts["normalize"]:
    pp.normalize(adata, target_sum=opts["target_sum"], log1p=opts["log1p"], dataset=dataset)
elif opts["log1p"]:
    import scanpy as sc

    sc.pp.log1p(adata)
if group_key is not None:
    # The cohort analysis' control (mean expression per group vs the phenotype) needs
    # the log-normalised means: per-group regress_out below sets every group's mean to 0.
    from sivae.cohort import group_mean_expression

    adata.varm["group_mean_expression"] = group_mean_expression(adata, group_key).T
    logger.info("%s: mean expression of each %s stored in varm", dataset, group_key)
if opts["cell_cycle"]:
    # as the original NeurDiff script: each line scored on its own standardised data
    pp.score_cell_cycle(adata, group_key=group_key, standardize=True, seed=seed, dataset=dataset)
if opts["regress_out"]:
    pp.regress_out(adata, opts["regress_out"], group_key=group_key, dataset=dataset)
hvg = opts["hvg"]
if hvg["n_top"] is not None:
    if hvg["per_group"] and group_key is None:
        raise ValueError(
            f"dataset {dataset!r}: preprocess.hvg.per_group needs a group_key in its config entry"
        )
    pp.hvg(
        adata,
        n_top_genes=hvg["n_top"],
        group_key=group_key if hvg["per_group"] else None,
        dataset=dataset,
    )
if opts["downsample"] is not None:
    pp.downsample(adata, opts["downsample"], stratify_key=label_key, seed=seed, dataset=dataset)
if opts["test_fraction"] > 0:
    pp.split(
        adata, test_size=opts["test_fraction"], stratify_key=label_key, seed=seed, dataset=dataset
    )
else:
    adata.obs["split"] = pd.Categorical(["train"] * adata.n_obs, categories=["train", "test"])
pp.scale(adata, scale=opts["scale"], dataset=dataset)

logger.info("%s: preprocessed to %d cells x %d genes", dataset, adata.n_obs, adata.n_vars)
atomic_write_h5ad(adata, snakemake.output[0])
