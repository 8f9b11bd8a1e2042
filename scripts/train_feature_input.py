"""Rule `train_feature_input`: siVAE with one feature-encoder input (Fig. S24).

Methods: the feature-wise encoder sees each gene's expression over ``C_red`` cells
instead of all ``C``: a random subsample of cells keeping the label proportions
(``subsample``), the first ``C_red`` principal components of ``X^T`` (``pca``), or all
cells (``full``). Trained through ``sivae train`` like every other model; writes
adata.h5ad, model/ and history.tsv into the output directory.
"""

import logging
import sys
from pathlib import Path

try:
    import sivae.cli
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.cli
from sivae._validation import log_to_file

# Everything the script and the library log goes to the rule's log file.
log_to_file(snakemake.log[0])

params = snakemake.params
args = sivae.cli.train_arguments(
    snakemake.input[0],
    Path(snakemake.output.adata).parent,
    {**params.settings, "labels_key": params.labels_key},  # stratifies the subsample
    params.device,
    params.seed,
    feature_input=snakemake.wildcards.feature_mode,
    n_feature_input=params.n_feature_input,
)
logging.getLogger(__name__).info("sivae %s", " ".join(args))
status = sivae.cli.main(args)
if status:
    raise SystemExit(f"sivae train exited with status {status}; see the messages above")
