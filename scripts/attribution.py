"""Rule `attribution`: siVAE loadings versus post hoc interpretation (Fig. 3a).

Per-cell attributions of the trained model's cell decoder (z -> x̂) by each
configured method (reverse mode, captum; forward mode, Jacobian) and Gene
Relevance are turned into genes x K loadings by the paper's PCA rule
(``sivae.attribution.attribution_loadings``) and compared with the siVAE loadings.

Outputs
-------
loadings.tsv
    method, gene, dimension, loading.
agreement.tsv
    method_a, method_b, median_spearman (median over dimensions).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import atomic_write_tsv, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])


dataset = snakemake.wildcards.dataset
settings = snakemake.params.settings
seed = snakemake.params.seed
device = snakemake.params.device
if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
attr = sivae.attribution

adata = read_h5ad_checked(snakemake.input.data, dataset)
model_class = sivae.VAE if snakemake.params.variant.startswith("VAE") else sivae.SIVAE
model = model_class.load(snakemake.input.model, adata)

# Attributions are computed on a random subset of cells (they cost F backward passes each).
rng = np.random.default_rng(seed)
n_cells = min(settings["n_cells"], adata.n_obs)
cells = np.sort(rng.choice(adata.n_obs, size=n_cells, replace=False))
z = model.get_latent_representation()[cells]
decoder = model.cell_decoder
# Sign of each PCA loading is fixed by the mean Jacobian (PCA signs are arbitrary).
reference = attr.jacobian(decoder, z, device=device).mean(axis=0)

loadings = {"siVAE": model.get_loadings().to_numpy()}
for method in settings["methods"]:
    logger.info("%s: %s (reverse mode) on %d cells", dataset, method, n_cells)
    values = attr.attribute(decoder, z, method, device=device, seed=seed, progress=False)
    loadings[method] = attr.attribution_loadings(values, "decoder", sign_reference=reference)
    if settings["forward_mode"] and method in attr.FORWARD_METHODS:
        values = attr.forward_attribute(decoder, z, method, device=device)
        loadings[f"{method}_forward"] = attr.attribution_loadings(
            values, "decoder", sign_reference=reference
        )
# Gene Relevance reads expression; the paper used raw counts where available.
layer = adata.layers["counts"] if "counts" in adata.layers else adata.X
expression = layer[cells]
expression = expression.toarray() if hasattr(expression, "toarray") else np.asarray(expression)
for k in settings["gene_relevance_k"]:
    if k >= n_cells:
        logger.info("%s: Gene Relevance k=%d skipped (only %d cells)", dataset, k, n_cells)
        continue
    partials = attr.gene_relevance(z, expression, k=k)
    loadings[f"gene_relevance_k{k}"] = attr.attribution_loadings(
        partials, "cell_gene_dim", sign_reference=reference
    )

genes = adata.var_names
long = [
    pd.DataFrame(
        {
            "method": method,
            "gene": np.repeat(genes, u.shape[1]),
            "dimension": np.tile(np.arange(1, u.shape[1] + 1), len(genes)),
            "loading": np.asarray(u).ravel(),
        }
    )
    for method, u in loadings.items()
]
agreement = attr.agreement_matrix(loadings)
agreement.index.name, agreement.columns.name = "method_a", "method_b"
agreement = agreement.stack().rename("median_spearman").reset_index()
atomic_write_tsv(pd.concat(long, ignore_index=True), snakemake.output.loadings)
atomic_write_tsv(agreement, snakemake.output.agreement)
