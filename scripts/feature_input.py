"""Rule `feature_input`: siVAE trained with each feature-encoder input (Fig. S24).

Methods (Additional file 1, Fig. S24): downsampled and PCA inputs give loss values
and clustering accuracies comparable to the full input. Per mode:

- ``final loss (per cell)``: total loss of the last epoch of the last stage;
- ``balanced k-NN accuracy (fraction)``: of the cell embedding (as in Fig. 2b);
- ``reconstruction error (MSE, mean over genes)``: of the per-gene reconstruction errors.

Output: feature_input.tsv with columns mode, metric, value.
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

# metric -> its name in the table (also the y-axis label of Fig. S24, so it carries units)
METRICS = {
    "final_loss": "final loss (per cell)",
    "knn_accuracy": "balanced k-NN accuracy (fraction)",
    "reconstruction_mse": "reconstruction error (MSE, mean over genes)",
}
rows = []
inputs = zip(params.modes, snakemake.input.models, snakemake.input.histories, strict=True)
for mode, model_path, history_path in inputs:
    trained = read_h5ad_checked(model_path, dataset)
    history = pd.read_csv(history_path, sep="\t")
    if history.empty:
        raise ValueError(f"dataset {dataset!r}: {history_path} has no training history")
    z = np.asarray(trained.obsm["X_sivae"])
    metrics = {
        METRICS["final_loss"]: float(history["total"].iloc[-1]),
        METRICS["knn_accuracy"]: sivae.metrics.knn_accuracy(
            z, labels, k=knn["k"], n_splits=knn["n_splits"], seed=params.seed
        ),
        METRICS["reconstruction_mse"]: float(trained.var["sivae_reconstruction_error"].mean()),
    }
    logger.info("%s: feature input %s: %s", dataset, mode, metrics)
    rows += [{"mode": mode, "metric": m, "value": v} for m, v in metrics.items()]

out = Path(snakemake.output[0])
tmp = out.with_name(f".{out.name}.tmp")
pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)
os.replace(tmp, out)
