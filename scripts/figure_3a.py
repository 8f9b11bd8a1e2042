"""Rule `figure_3a`: Fig. 3a, agreement (median Spearman) between siVAE loadings,
feature attribution methods and Gene Relevance.
"""

import logging
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

# Everything the script and the library log goes to the rule's log file.
sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(
    stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s"
)
logger = logging.getLogger(__name__)
plotting = sivae.plotting

agreement = pd.read_csv(snakemake.input.agreement, sep="\t")
plt.close(plotting.plot_fig3a(agreement, snakemake.output.fig3a))
