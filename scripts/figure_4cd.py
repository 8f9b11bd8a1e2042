"""Rule `figure_4cd`: Fig. 4c (cell embedding by label) and Fig. 4d (feature
embedding of marker genes, coloured by the label they mark).

The markers come from the rule `marker_genes` (scanpy ``rank_genes_groups`` on the
dataset's own labels), so the panel says "markers from labels".
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
from sivae._validation import log_to_file, read_h5ad_checked
from sivae.plotting import natural_sorted  # the label order of Fig. 4c

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])
plotting = sivae.plotting

adata = read_h5ad_checked(snakemake.input.adata, snakemake.params.dataset)
markers_table = pd.read_csv(snakemake.input.markers, sep="\t")
found = {
    str(label): rows.sort_values("rank")["gene"].astype(str).tolist()
    for label, rows in markers_table.groupby("label", sort=False)
}
# Every label, in the order Fig. 4c colours them, so a label has the same colour in both
# panels (a label without markers, e.g. one with < 2 cells, keeps its colour unused).
labels = natural_sorted(adata.obs[snakemake.params.label_key].astype(str))
markers = {label: found.get(label, []) for label in labels}
out = snakemake.output
plt.close(
    plotting.plot_fig4c(
        adata, out.fig4c, label_key=snakemake.params.label_key, seed=snakemake.params.seed
    )
)
plt.close(plotting.plot_fig4d(adata, out.fig4d, markers=markers, markers_source="labels"))
