"""Rules `train_model` and `train_bin`: train one model through the `sivae train` CLI.

The CLI writes ``<output dir>/adata.h5ad`` (``obsm["X_sivae"]``,
``varm["sivae_loadings"]``, ``var["sivae_degree_centrality"]``, ...),
``<output dir>/model/`` and ``<output dir>/history.tsv``.
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


out_dir = Path(snakemake.output.adata).parent
params = snakemake.params
args = sivae.cli.train_arguments(
    snakemake.input[0], out_dir, params.settings, params.device, params.seed
)
logging.getLogger(__name__).info("sivae %s", " ".join(args))
status = sivae.cli.main(args)
if status:
    raise SystemExit(f"sivae train exited with status {status}; see the messages above")
