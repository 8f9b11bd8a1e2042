"""Rule `figure_3bcd`: Fig. 3b-d, execution time of siVAE versus VAE + attribution
(total at the largest setting; against embedding dimensions K; against features F).

As in the paper, an attribution method's time is the VAE's training time plus the
attribution itself: ``seconds`` of attribution rows is replaced by their
``total_seconds``. The table drawn is written to ``fig3bcd.tsv``.
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
from sivae._validation import log_to_file

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])
plotting = sivae.plotting

timing = pd.read_csv(snakemake.input.timing, sep="\t")
if "total_seconds" in timing.columns:
    with_training = timing["total_seconds"].notna()
    timing.loc[with_training, "seconds"] = timing.loc[with_training, "total_seconds"]
    logger.info("%d attribution rows: seconds = VAE training + attribution", with_training.sum())
else:
    logger.warning("timing.tsv has no total_seconds: attribution times exclude VAE training")
out = snakemake.output
timing.to_csv(out.table, sep="\t", index=False)
plt.close(plotting.plot_fig3b(timing, out.fig3b))
plt.close(plotting.plot_fig3c(timing, out.fig3c))
plt.close(plotting.plot_fig3d(timing, out.fig3d))
