"""Rule `load_dataset`: any dataset source (builtin, file, downloads) -> raw.h5ad.

``sivae.datasets.load`` reads the config entry (source, reader, obs keys) and
checks that every obs key the entry names exists in the data.
"""

import logging
import sys
from pathlib import Path

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import atomic_write_h5ad, log_to_file

# Everything the script and the library log goes to the rule's log file.
log_to_file(snakemake.log[0])

dataset = snakemake.wildcards.dataset
adata = sivae.datasets.load(dataset, dict(snakemake.params.entry), snakemake.params.data_dir)
logging.getLogger(__name__).info("%s: %d cells x %d genes", dataset, adata.n_obs, adata.n_vars)
atomic_write_h5ad(adata, snakemake.output[0])
