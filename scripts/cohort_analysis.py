"""Rule `cohort_analysis`: per-bin siVAE gene embeddings -> the Fig. 6 tables.

Reads each bin's trained model output (``varm["sivae_loadings"]`` = gene
embedding, ``var["sivae_degree_centrality"]``), the group phenotypes and the mean
expression per group from the preprocessed data (``varm["group_mean_expression"]``,
taken before per-group regression), and the dataset's gene sets
(local .gmt; an ``MT-`` prefix set is added automatically), then calls
``sivae.cohort.run_cohort_analysis``.

Outputs: group_embedding.tsv (group, PC1, PC2, phenotype), centrality.tsv
(group x gene), centrality_phenotype.tsv (gene, rho, p, q, mean_rho, mean_p,
mean_q), gsea.tsv (Term, NES, NOM p-val, FDR q-val, Lead_genes), edges.tsv
(gene_a, gene_b, statistic, p, q).
"""

import sys
from pathlib import Path

import pandas as pd

try:
    import sivae.cohort
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.cohort
from sivae._validation import atomic_write_tsv, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])


dataset = snakemake.wildcards.dataset
entry = snakemake.params.entry
settings = snakemake.params.settings
cohort = sivae.cohort

adata = read_h5ad_checked(snakemake.input.data, dataset)
embeddings, centralities, owner = {}, {}, {}
for path in snakemake.input.bins:
    path = Path(path)  # results/{dataset}/cohort/bins/{group}/{bin}/adata.h5ad
    group, bin_name = path.parent.parent.name, path.parent.name
    trained = read_h5ad_checked(path, dataset)
    embeddings[bin_name] = pd.DataFrame(trained.varm["sivae_loadings"], index=trained.var_names)
    centralities[bin_name] = trained.var["sivae_degree_centrality"].astype(float)
    owner[bin_name] = trained.uns.get("bin", {}).get("group", group)
logger.info("%s: %d bins from %d groups", dataset, len(embeddings), len(set(owner.values())))

if "group_mean_expression" in adata.varm:
    # stored by the preprocess rule before per-group regression zeroed the group means
    stored = adata.varm["group_mean_expression"]
    mean_expression = pd.DataFrame(stored, index=adata.var_names).T
else:
    logger.info("%s: no stored group means; mean expression per group from X", dataset)
    mean_expression = cohort.group_mean_expression(adata, entry["group_key"])

tables = cohort.run_cohort_analysis(
    gene_embeddings=embeddings,
    centralities=centralities,
    bin_groups=pd.Series(owner, name="group"),
    phenotype=cohort.group_phenotype(adata, entry["group_key"], entry["phenotype_key"]),
    mean_expression=mean_expression,
    gene_sets=snakemake.input.gene_sets[0] if snakemake.input.gene_sets else None,
    top_fraction=settings["top_fraction"],
    metric=settings["metric"],
    node_label=settings["node_label"],
    n_iter=settings["wl_iterations"],
    mt_prefix=settings["mt_prefix"],
    # null in the config: test the edges of the automatic MT- prefix set.
    edge_gene_set=settings["edge_gene_set"] or "MT",
    min_edge_fraction=settings["min_edge_fraction"],
    seed=snakemake.params.seed,
)
atomic_write_tsv(tables["group_embedding"], snakemake.output.group_embedding)
atomic_write_tsv(tables["centrality"].rename_axis("group"), snakemake.output.centrality, index=True)
atomic_write_tsv(tables["centrality_phenotype"], snakemake.output.centrality_phenotype)
atomic_write_tsv(tables["gsea"], snakemake.output.gsea)
atomic_write_tsv(tables["edges"], snakemake.output.edges)
