"""Rule `gamma_sweep`: balanced k-NN accuracy of siVAE at each interpretability
weight γ (Fig. S5), with the same classifier settings as rule `evaluate_embedding`.

Output: gamma_sweep.tsv with columns gamma, k, fold, accuracy (``fold`` = ``mean``:
predictions of all folds pooled, as in knn_accuracy.tsv).
"""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import sivae.metrics
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.metrics
from sivae._validation import log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])

dataset = snakemake.wildcards.dataset
params = snakemake.params
knn = params.embedding
adata = read_h5ad_checked(snakemake.input.data, dataset)
labels = adata.obs[knn["label_key"]].astype(str).to_numpy()

rows = []
for gamma, path in zip(params.gammas, snakemake.input.models, strict=True):
    trained = read_h5ad_checked(path, dataset)
    if not trained.obs_names.equals(adata.obs_names):
        raise ValueError(f"dataset {dataset!r}: the γ={gamma} model was trained on other cells")
    z = np.asarray(trained.obsm["X_sivae"])
    accuracy = sivae.metrics.knn_accuracy(
        z, labels, k=knn["k"], n_splits=knn["n_splits"], seed=params.seed
    )
    logger.info("%s: γ=%s balanced k-NN accuracy %.3f", dataset, gamma, accuracy)
    rows.append({"gamma": float(gamma), "k": knn["k"], "fold": "mean", "accuracy": accuracy})

out = Path(snakemake.output[0])
tmp = out.with_name(f".{out.name}.tmp")
pd.DataFrame(rows).sort_values("gamma").to_csv(tmp, sep="\t", index=False)
os.replace(tmp, out)
