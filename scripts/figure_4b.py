"""Rule `figure_4b`: Fig. 4b, feature embedding of the hub-network simulation
(genes by community, hubs as stars, isolated genes grey).
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
plt.close(plotting.plot_fig4b(adata, snakemake.output.fig4b))
