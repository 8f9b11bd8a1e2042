"""Rule `true_centrality`: ground-truth degree centrality (Methods): for each gene, the
variance of all other genes that a neural network from that gene alone explains.

Output: true_centrality.tsv with gene, true_centrality (+ true_degree when the
data carries the simulation's ``var["degree"]``).
"""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
log_to_file(snakemake.log[0])

dataset = snakemake.wildcards.dataset
settings = snakemake.params.settings
adata = read_h5ad_checked(snakemake.input[0], dataset)
x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
centrality = sivae.networks.true_degree_centrality(
    x,
    hidden=tuple(settings["hidden"]),
    epochs=settings["epochs"],
    gene_names=adata.var_names,
    seed=snakemake.params.seed,
)
table = pd.DataFrame(
    {"gene": adata.var_names, "true_centrality": np.asarray(centrality, dtype=float)}
)
if "degree" in adata.var:
    table["true_degree"] = adata.var["degree"].to_numpy()
tmp = Path(snakemake.output[0]).with_name(".true_centrality.tsv.tmp")
table.to_csv(tmp, sep="\t", index=False)
os.replace(tmp, snakemake.output[0])
