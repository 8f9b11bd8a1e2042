"""Rules `figure_S5`, `figure_S11`, `figure_S24`, `figure_S25`: supplementary panels.

S5: balanced k-NN accuracy of siVAE as the interpretability weight γ goes from 0 to
100, with siVAE-linear and the VAE of the same run as reference lines.
S11: per-gene reconstruction error against distance from the origin of the feature
embedding. S24: siVAE with subsampled, PCA and full feature-encoder inputs.
S25: training curves of every model compared in Fig. 2.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

try:
    import sivae.plotting
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.plotting
from sivae._validation import log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])
plotting = sivae.plotting
inp, out, params = snakemake.input, snakemake.output, snakemake.params

# Variants the γ sweep interpolates between (Methods: siVAE(γ=100) ~ siVAE-linear).
REFERENCE_VARIANTS = ("siVAE_linear", "VAE")

if snakemake.rule == "figure_S5":
    sweep = pd.read_csv(inp.gamma_sweep, sep="\t")
    knn = pd.read_csv(inp.knn, sep="\t")
    knn = knn[knn["k"] == sweep["k"].iloc[0]]
    means = knn.groupby(knn["variant"].astype(str))["accuracy"].mean()
    references = {v: float(means[v]) for v in REFERENCE_VARIANTS if v in means.index}
    logger.info("reference accuracies: %s", references)
    plt.close(plotting.plot_figS5(sweep, out.figS5, references=references))
elif snakemake.rule == "figure_S11":
    adata = read_h5ad_checked(inp.adata, params.dataset)
    plt.close(plotting.plot_figS11(adata, out.figS11, error_key="sivae_reconstruction_error"))
elif snakemake.rule == "figure_S24":
    table = pd.read_csv(inp.feature_input, sep="\t")
    plt.close(plotting.plot_figS24(table, out.figS24))
elif snakemake.rule == "figure_S25":
    histories = {
        model: pd.read_csv(path, sep="\t")
        for model, path in zip(params.models, inp.histories, strict=True)
    }
    plt.close(plotting.plot_figS25(histories, out.figS25, logy=False))
else:
    raise ValueError(f"figure_supplementary.py: unexpected rule {snakemake.rule!r}")
