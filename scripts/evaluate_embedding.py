"""Rule `evaluate_embedding`: k-NN accuracy of each model's cell embedding (Fig. 2b)
and the 2-D coordinates for plotting (Fig. 2a, c, d).

Outputs
-------
knn_accuracy.tsv
    variant, k, fold, accuracy: balanced accuracy of a k-NN classifier under
    stratified k-fold cross-validation (``fold`` = ``mean`` over folds). A PCA
    embedding of the same dimension is included as the linear baseline.
embeddings.tsv
    variant, cell, label, batch, dim1, dim2.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import atomic_write_tsv, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])


dataset = snakemake.wildcards.dataset
params = snakemake.params
adata = read_h5ad_checked(snakemake.input.data, dataset)
labels = adata.obs[params.label_key].astype(str).to_numpy()
batch = (
    adata.obs[params.batch_key].astype(str).to_numpy()
    if params.batch_key
    else np.full(adata.n_obs, "")
)

embeddings = {}
for variant, path in zip(params.models, snakemake.input.models, strict=True):
    trained = read_h5ad_checked(path, dataset)
    if not trained.obs_names.equals(adata.obs_names):
        raise ValueError(f"dataset {dataset!r}: model {variant!r} was trained on other cells")
    embeddings[variant] = np.asarray(trained.obsm["X_sivae"])
n_dims = next(iter(embeddings.values())).shape[1]
x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
embeddings["PCA"] = PCA(n_components=n_dims, random_state=params.seed).fit_transform(x)

accuracy, coordinates = [], []
for variant, z in embeddings.items():
    score = sivae.metrics.knn_accuracy(
        z, labels, k=params.k, n_splits=params.n_splits, seed=params.seed
    )
    logger.info("%s: %s balanced k-NN accuracy %.3f", dataset, variant, score)
    accuracy.append({"variant": variant, "k": params.k, "fold": "mean", "accuracy": score})
    if z.shape[1] < 2:
        logger.info("%s: %s has one dimension; dim2 left empty", dataset, variant)
    coordinates.append(
        pd.DataFrame(
            {
                "variant": variant,
                "cell": adata.obs_names,
                "label": labels,
                "batch": batch,
                "dim1": z[:, 0],
                "dim2": z[:, 1] if z.shape[1] > 1 else np.nan,
            }
        )
    )

atomic_write_tsv(pd.DataFrame(accuracy), snakemake.output.knn)
atomic_write_tsv(pd.concat(coordinates, ignore_index=True), snakemake.output.embeddings)
