"""Rules `figure_6bcd` and `figure_6ef`: Fig. 6 from the cohort tables.

figure_6bcd: Fig. 6b (groups in the graph-kernel PCA, coloured by the continuous
phenotype), Fig. 6c (genes whose degree centrality correlates with the phenotype),
Fig. 6d (significant edges of the tested gene set).
figure_6ef: Fig. 6e (the same group embedding coloured by a binary case/control
status; written to ``fig6e.tsv`` too) and Fig. 6f (edges present in at least
``cohort.min_edge_fraction`` of a group's networks).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

try:
    import sivae.cohort
    import sivae.plotting
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.cohort
    import sivae.plotting
from sivae._validation import log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])
plotting = sivae.plotting
cohort = sivae.cohort

dataset = snakemake.params.dataset
entry = snakemake.params.entry
settings = snakemake.params.settings
group_key, phenotype_key = entry["group_key"], entry["phenotype_key"]
adata = read_h5ad_checked(snakemake.input.data, dataset)

# The tested gene set, as rule cohort_analysis resolved it (null: the MT- prefix set).
gene_sets = cohort.resolve_gene_sets(
    snakemake.input.gene_sets[0] if snakemake.input.gene_sets else None,
    list(map(str, adata.var_names)),
    mt_prefix=settings["mt_prefix"],
)
set_name = settings["edge_gene_set"] or "MT"
edge_genes = gene_sets.get(set_name)
if edge_genes is None:
    raise ValueError(f"dataset {dataset!r}: gene set {set_name!r} (cohort.edge_gene_set) not found")

# Names of the two sides of the edge test: a continuous phenotype is split at its
# median (above = "case", see sivae.cohort.edge_association).
phenotype = cohort.group_phenotype(adata, group_key, phenotype_key)
coded, kind = cohort.encode_phenotype(phenotype, name=phenotype_key)
if kind == "continuous":
    sides = {"case_label": f"high {phenotype_key}", "control_label": f"low {phenotype_key}"}
else:
    case_value = phenotype.loc[coded.index][coded == 1].iloc[0]
    control_value = phenotype.loc[coded.index][coded == 0].iloc[0]
    sides = {"case_label": str(case_value), "control_label": str(control_value)}
logger.info("%s: edge test sides %s (%s phenotype)", dataset, sides, kind)

inp, out = snakemake.input, snakemake.output
group_embedding = pd.read_csv(inp.group_embedding, sep="\t")
edges = pd.read_csv(inp.edges, sep="\t")

if snakemake.rule == "figure_6bcd":
    plt.close(
        plotting.plot_fig6b(
            group_embedding,
            out.fig6b,
            phenotype_name=phenotype_key,
            title=f"Networks per {group_key} (graph-kernel PCA)",
        )
    )
    table = pd.read_csv(inp.centrality_phenotype, sep="\t")
    plt.close(plotting.plot_fig6c(table, out.fig6c))
    plt.close(
        plotting.plot_fig6d(
            edges,
            out.fig6d,
            genes=edge_genes,
            title=f"{set_name} edges associated with {phenotype_key}",
            **sides,
        )
    )
else:
    status_key = entry.get("status_key") or phenotype_key
    status = cohort.group_phenotype(adata, group_key, status_key)
    if status.nunique() != 2:
        raise ValueError(
            f"dataset {dataset!r}: Fig. 6e needs a binary per-group status, but "
            f"obs[{status_key!r}] has {status.nunique()} values; set datasets.{dataset}.status_key"
        )
    groups = group_embedding["group"].astype(str)
    absent = sorted(set(groups) - set(status.index))
    if absent:
        raise ValueError(f"dataset {dataset!r}: groups {absent[:5]} have no {status_key!r}")
    status_table = group_embedding[["group", "PC1", "PC2"]].assign(
        phenotype=groups.map(status).to_numpy()
    )
    status_table.to_csv(out.fig6e_table, sep="\t", index=False)
    plt.close(
        plotting.plot_fig6e(
            status_table,
            out.fig6e,
            phenotype_name=status_key,
            title=f"Networks per {group_key} (graph-kernel PCA)",
        )
    )
    plt.close(
        plotting.plot_fig6f(
            edges,
            out.fig6f,
            genes=edge_genes,
            min_frac=settings["min_edge_fraction"],
            title=f"{set_name} edges, {sides['case_label']} vs {sides['control_label']}",
            **sides,
        )
    )
