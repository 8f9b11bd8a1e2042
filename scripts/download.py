"""Rule `download`: fetch one file of a `source: url` dataset.

Calls ``sivae.datasets.download`` (urllib, ``.part`` file + atomic rename, resume,
retries, SHA-256 check), so a failed or interrupted download never leaves a file
that Snakemake would take for a finished output.
"""

import logging
import sys
from pathlib import Path

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import log_to_file

# Everything the script and the library log goes to the rule's log file.
log_to_file(snakemake.log[0])

source = snakemake.params.source
logging.getLogger(__name__).info("downloading %s -> %s", source["url"], snakemake.output[0])
sivae.datasets.download(source["url"], snakemake.output[0], sha256=source["sha256"])
