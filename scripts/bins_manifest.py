"""Rule `bins_manifest`: one row per bin file found by the `bins` checkpoint.

Columns: group, bin, n_cells, path. Reads only each file's shape (backed mode).
"""

import logging
import os
import sys
from pathlib import Path

import anndata as ad
import pandas as pd

# Everything the script and the library log goes to the rule's log file.
sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(
    stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s"
)


rows = []
for path in snakemake.input:
    path = Path(path)
    bin_data = ad.read_h5ad(path, backed="r")
    rows.append(
        {"group": path.parent.name, "bin": path.stem, "n_cells": bin_data.n_obs, "path": str(path)}
    )
    bin_data.file.close()
table = pd.DataFrame(rows, columns=["group", "bin", "n_cells", "path"])
logging.getLogger(__name__).info("%d bins in %d groups", len(table), table["group"].nunique())
tmp = Path(snakemake.output[0]).with_name(".bins.tsv.tmp")
table.to_csv(tmp, sep="\t", index=False)
os.replace(tmp, snakemake.output[0])
