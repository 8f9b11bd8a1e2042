"""Rule `figure_5`: Fig. 5a-e, siVAE gene hubs and neighbours versus explicit
network inference (centrality vs ground truth, top hubs, neighbour accuracy,
neighbour-set overlap and co-expression).
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

inp, out = snakemake.input, snakemake.output
centrality = pd.read_csv(inp.centrality, sep="\t")
plt.close(plotting.plot_fig5a(centrality, out.fig5a))
plt.close(plotting.plot_fig5b(centrality, out.fig5b))
accuracy = pd.read_csv(inp.accuracy, sep="\t")
plt.close(plotting.plot_fig5c(accuracy, out.fig5c, seed=snakemake.params.seed))
plt.close(plotting.plot_fig5d(pd.read_csv(inp.jaccard, sep="\t"), out.fig5d))
plt.close(plotting.plot_fig5e(pd.read_csv(inp.correlation, sep="\t"), out.fig5e))
