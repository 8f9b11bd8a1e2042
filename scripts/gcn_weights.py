"""Rule `gcn_weights`: gene x gene weights of one GCN inference method (Fig. 5).

``{method}`` is CLR, ARACNE, MRNET or GRNBoost2 run on the preprocessed data, or
``siVAE-<method>`` run on as many cells sampled from the trained siVAE
(siVAE-GCN, Methods). Mutual information uses minet's estimator (default
Spearman). ``network.gcn_layer`` names a layer the methods read instead of ``X``
(``counts``: the original code's input). Output: ``.npy`` (genes x genes, genes
in the order of the data).
"""

import os
import sys
from pathlib import Path

import numpy as np

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import dense_matrix, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])

dataset = snakemake.wildcards.dataset
method = snakemake.wildcards.method
settings = snakemake.params.settings
networks = sivae.networks

adata = read_h5ad_checked(snakemake.input.data, dataset)
if method.startswith("siVAE-"):
    model_class = sivae.VAE if snakemake.params.variant.startswith("VAE") else sivae.SIVAE
    model = model_class.load(snakemake.input.model, adata)
    x = model.sample(adata.n_obs, seed=snakemake.params.seed)
    method = method.removeprefix("siVAE-")
    logger.info("%s: sampled %d cells from the trained model", dataset, adata.n_obs)
else:
    layer = settings["gcn_layer"]
    x = dense_matrix(adata, layer=layer, dataset=dataset)
    logger.info("%s: %s reads %s", dataset, method, "X" if layer is None else f"layer {layer!r}")

if method == "GRNBoost2":
    weights = networks.grnboost2(
        x,
        gene_names=list(adata.var_names),
        n_jobs=snakemake.threads,
        n_estimators=settings["grnboost2"]["n_estimators"],
    )
else:
    mutual_information = networks.mutual_information(x, estimator=settings["mi_estimator"])
    weights = {"CLR": networks.clr, "ARACNE": networks.aracne, "MRNET": networks.mrnet}[method](
        mutual_information
    )
tmp = Path(snakemake.output[0]).with_name(f".{method}.tmp.npy")
np.save(tmp, np.asarray(weights, dtype=np.float64))
os.replace(tmp, snakemake.output[0])
