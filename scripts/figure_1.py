"""Rule `figure_1`: Fig. 1b-d from the toy data's model output.

Fig. 1b: siVAE cell embedding; Fig. 1c: cells coloured by the expression of gene 1
(co-regulated); Fig. 1d: feature embedding (loadings), genes coloured by module.
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
out = snakemake.output
plt.close(plotting.plot_fig1b(adata, out.fig1b))
plt.close(plotting.plot_fig1c(adata, out.fig1c, gene=str(adata.var_names[0])))
plt.close(plotting.plot_fig1d(adata, out.fig1d, module_key="module"))
