"""Rule `figure_2ab`: Fig. 2a (2-D cell embeddings per model, by label) and Fig. 2b
(balanced k-NN accuracy per model) from the embedding tables.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd

try:
    import sivae.plotting
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.plotting
from sivae._validation import log_to_file

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])
plotting = sivae.plotting

embeddings = pd.read_csv(snakemake.input.embeddings, sep="\t")
knn = pd.read_csv(snakemake.input.knn, sep="\t")
out = snakemake.output
plt.close(plotting.plot_fig2a(embeddings, out.fig2a, seed=snakemake.params.seed))
plt.close(plotting.plot_fig2b(knn, out.fig2b))
