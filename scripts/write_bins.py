"""Checkpoint `bins`: equal-sized random bins of cells per group.

Writes ``results/{dataset}/bins/{group}/{bin}.h5ad`` (one file per bin; leftover
cells and groups smaller than one bin are dropped with a log line by
``sivae.pp.make_bins``) and ``bins/bins.tsv`` (group, bin, n_cells, file).
"""

import logging
import os
import sys
from pathlib import Path

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
out_dir = Path(snakemake.output[0])
adata = read_h5ad_checked(snakemake.input[0], dataset)
bins = sivae.pp.make_bins(
    adata,
    snakemake.params.group_key,
    bin_size=snakemake.params.bin_size,
    seed=snakemake.params.seed,
    dataset=dataset,
)
manifests = []
for i, (group, members) in enumerate(bins.items()):
    # sivae.pp.write_bins names files "<safe group>_bin<i>.h5ad"; each group gets its
    # own directory so that the layout is {group}/{bin}.h5ad, as the wildcards expect.
    staging = out_dir / f".group{i}"
    written = sivae.pp.write_bins(adata, {group: members}, staging, dataset=dataset)
    (staging / "bins.tsv").unlink()
    name = Path(written["file"].iloc[0]).stem.rsplit("_bin", 1)[0]
    os.replace(staging, out_dir / name)
    written["file"] = [f"{name}/{file}" for file in written["file"]]
    manifests.append(written)
manifest = pd.concat(manifests, ignore_index=True)
tmp = out_dir / ".bins.tsv.tmp"
manifest.to_csv(tmp, sep="\t", index=False)
os.replace(tmp, out_dir / "bins.tsv")
logging.getLogger(__name__).info("%s: wrote %d bins", dataset, len(manifest))
