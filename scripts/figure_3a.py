"""Rule `figure_3a`: Fig. 3a, agreement (median Spearman) between siVAE loadings,
feature attribution methods and Gene Relevance.
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

agreement = pd.read_csv(snakemake.input.agreement, sep="\t")
plt.close(plotting.plot_fig3a(agreement, snakemake.output.fig3a))
