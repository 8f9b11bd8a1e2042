"""Rule `figures_table`: results/figures.tsv, one row per panel with the paper's
headline next to ours (``sivae.plotting.figures_table``).

Columns: panel, dataset, files (comma-separated: PNG, PDF and the tables or model
outputs behind the panel), paper, ours, note.
"""

import os
import sys
from pathlib import Path

import pandas as pd

try:
    import sivae.plotting
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.plotting
from sivae._validation import log_to_file

# Everything the script and the library log goes to the rule's log file.
log_to_file(snakemake.log[0])

rows = []
for row in snakemake.params.rows:
    tables = {name: pd.read_csv(path, sep="\t") for name, path in row["tables"].items()}
    rows.append({**row, "tables": tables})
table = sivae.plotting.figures_table(rows)

path = Path(snakemake.output[0])
tmp = path.with_name(f".{path.name}.tmp")
table.to_csv(tmp, sep="\t", index=False)
os.replace(tmp, path)
