"""Rule `figure_2cd`: Fig. 2c-d, cells before and after siVAE batch correction.

The model output of a dataset with a ``batch_key`` (siVAE trained with the batch as a
covariate) holds the uncorrected input in ``X`` and the corrected embedding in
``obsm["X_sivae"]``. Left: UMAP of ``X`` (PCA first); right: the siVAE embedding (its
two dimensions as they are when K = 2, else t-SNE as in the paper). Top row by
label, bottom row by batch.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

try:
    import sivae.plotting
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.plotting
from sivae._validation import log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])
plotting = sivae.plotting

adata = read_h5ad_checked(snakemake.input.adata, snakemake.params.dataset)
params = snakemake.params
n_latent = adata.obsm["X_sivae"].shape[1] if "X_sivae" in adata.obsm else 0
plt.close(
    plotting.plot_fig2cd(
        adata,
        snakemake.output.fig2cd,
        label_key=params.label_key,
        batch_key=params.batch_key,
        uncorrected_method="umap",
        corrected_method="none" if n_latent == 2 else "tsne",
        seed=params.seed,
    )
)
