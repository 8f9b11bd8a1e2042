"""Rule `marker_genes`: top marker genes of each label (Fig. 4d).

scanpy ``rank_genes_groups`` (one label against the rest, ``figures.markers.method``)
on the preprocessed data's genes; labels with fewer than 2 cells are dropped (logged).

Outputs
-------
markers.tsv
    label, rank (1 = best), gene, score, logfoldchange, pval_adj.
markers.gmt
    one gene set per label: ``<label>\\tmarkers of <label> (rank_genes_groups)\\t<genes>``.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc

try:
    import sivae  # noqa: F401  (the repository copy when the env lacks the package)
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
from sivae._validation import log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])


def write_atomic(path, write):
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    write(tmp)
    os.replace(tmp, path)


dataset = snakemake.wildcards.dataset
label_key = snakemake.params.label_key
settings = snakemake.params.settings
adata = read_h5ad_checked(snakemake.input[0], dataset)
if label_key not in adata.obs:
    raise ValueError(f"dataset {dataset!r}: obs has no label column {label_key!r}")
labels = adata.obs[label_key].astype(str)
counts = labels.value_counts()
rare = sorted(counts.index[counts < 2])
if rare:
    logger.warning("%s: labels with < 2 cells have no markers, dropped: %s", dataset, rare)
adata = adata[~labels.isin(rare).to_numpy()].copy()
adata.obs["_label"] = pd.Categorical(adata.obs[label_key].astype(str))
if adata.obs["_label"].nunique() < 2:
    raise ValueError(f"dataset {dataset!r}: marker genes need at least two labels with >= 2 cells")
if hasattr(adata.X, "toarray"):
    adata.X = adata.X.toarray()
adata.X = np.asarray(adata.X, dtype=np.float64)

n_genes = min(settings["n_genes"], adata.n_vars)
sc.tl.rank_genes_groups(adata, "_label", method=settings["method"], n_genes=n_genes, use_raw=False)
result = adata.uns["rank_genes_groups"]
rows = []
for label in result["names"].dtype.names:
    for rank in range(n_genes):
        rows.append(
            {
                "label": label,
                "rank": rank + 1,
                "gene": str(result["names"][label][rank]),
                "score": float(result["scores"][label][rank]),
                "logfoldchange": float(result["logfoldchanges"][label][rank]),
                "pval_adj": float(result["pvals_adj"][label][rank]),
            }
        )
table = pd.DataFrame(rows)
logger.info("%s: %d markers for %d labels", dataset, len(table), table["label"].nunique())

write_atomic(snakemake.output.tsv, lambda p: table.to_csv(p, sep="\t", index=False))
gmt = "".join(
    f"{label}\tmarkers of {label} (rank_genes_groups, {settings['method']})\t"
    + "\t".join(group.sort_values("rank")["gene"])
    + "\n"
    for label, group in table.groupby("label", sort=True)
)
write_atomic(snakemake.output.gmt, lambda p: Path(p).write_text(gmt))
