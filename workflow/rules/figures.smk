# Figure panels: placeholder. Another helper writes the plotting rules; each panel
# becomes results/figures/{panel}.png (+ .pdf) and results/figures.tsv lists them.
# Rule `all` targets only outputs that exist in the rule files.
#
# Panels and the tables they read (see config/README.md for the columns):
#   fig1a  toy_network loadings             models/siVAE/adata.h5ad (varm["sivae_loadings"])
#   fig2a  2-D cell embeddings              embedding/embeddings.tsv
#   fig2b  k-NN balanced accuracy           embedding/knn_accuracy.tsv
#   fig2cd batch correction (NeurDiff)      embedding/embeddings.tsv (batch column)
#   fig3a  attribution agreement            attribution/agreement.tsv
#   fig3bd execution time                   timing/timing.tsv
#   fig4ab feature embeddings (hub_network) models/siVAE/adata.h5ad, var["community"]
#   fig4cd marker genes in feature space    models/siVAE/adata.h5ad + gene sets
#   fig5a  centrality vs ground truth       network/centrality.tsv
#   fig5b  hub recovery                     network/centrality.tsv (true_degree)
#   fig5c  neighbour accuracy               network/neighbour_accuracy.tsv
#   fig5d  neighbour overlap                network/jaccard.tsv, network/mean_correlation.tsv
#   fig6a  group embedding (WL kernel)      cohort/group_embedding.tsv
#   fig6b  centrality vs phenotype          cohort/centrality_phenotype.tsv
#   fig6c  GSEA                             cohort/gsea.tsv
#   fig6d  MT edges                         cohort/edges.tsv
#   figS25 training convergence             models/{variant}/history.tsv
