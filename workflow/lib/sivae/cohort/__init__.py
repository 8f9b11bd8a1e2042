"""Cohort analyses (paper Fig. 6): compare gene networks across cell lines or donors.

Cells of each group (iPSC line, donor) are split into equal bins; each bin gets
a gene embedding and degree centralities (siVAE, or the PCA stand-in). From
these, :func:`run_cohort_analysis` builds one gene network per bin, embeds the
groups with a Weisfeiler-Lehman graph kernel, correlates each gene's
centrality (and, as a control, its mean expression) with the group phenotype,
runs GSEA on those correlations and tests the edges of a gene set::

    import sivae
    adata = sivae.datasets.cohort(seed=0)
    bins = sivae.pp.make_bins(adata, "group", bin_size=1000)
    emb, cent, bin_groups = sivae.cohort.embed_bins(adata, bins, batch_key="pool")
    tables = sivae.cohort.run_cohort_analysis(
        emb, cent, bin_groups,
        phenotype=sivae.cohort.group_phenotype(adata, "group", "efficiency"),
        mean_expression=sivae.cohort.group_mean_expression(adata, "group"),
        gene_sets={k: list(v) for k, v in adata.uns["cohort"]["gene_sets"].items()},
    )
"""

from ._analysis import centrality_table, run_cohort_analysis
from ._embed import (
    embed_bins,
    group_mean_expression,
    group_phenotype,
    pca_gene_embedding,
    sivae_gene_embedding,
    sivae_gene_embedding_batched,
)
from ._gsea import GSEA_COLUMNS, gsea_prerank, read_gmt, resolve_gene_sets
from ._networks import gene_network, group_kernel, wl_kernel
from ._stats import (
    benjamini_hochberg,
    edge_association,
    embedding_association,
    encode_phenotype,
    group_embedding,
    phenotype_association,
)

__all__ = [
    "GSEA_COLUMNS",
    "benjamini_hochberg",
    "centrality_table",
    "edge_association",
    "embed_bins",
    "embedding_association",
    "encode_phenotype",
    "gene_network",
    "group_embedding",
    "group_kernel",
    "group_mean_expression",
    "group_phenotype",
    "gsea_prerank",
    "pca_gene_embedding",
    "phenotype_association",
    "read_gmt",
    "resolve_gene_sets",
    "run_cohort_analysis",
    "sivae_gene_embedding",
    "sivae_gene_embedding_batched",
    "wl_kernel",
]
