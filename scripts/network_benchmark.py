"""Rule `network_benchmark`: degree centrality and gene neighbours of siVAE versus
GCN inference methods (Fig. 5).

Inputs: the trained siVAE (``var["sivae_degree_centrality"]``,
``varm["sivae_loadings"]``), each method's gene x gene weights, and the
ground-truth centrality. Outputs (columns in config/README.md):
centrality.tsv, neighbours.tsv, neighbour_accuracy.tsv, jaccard.tsv,
mean_correlation.tsv.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import atomic_write_tsv, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])


dataset = snakemake.wildcards.dataset
settings = snakemake.params.settings
k = settings["n_neighbours"]
networks = sivae.networks

adata = read_h5ad_checked(snakemake.input.data, dataset)
trained = read_h5ad_checked(snakemake.input.adata, dataset)
genes = adata.var_names
x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)

centralities = {"siVAE": trained.var["sivae_degree_centrality"].reindex(genes)}
neighbours = {"siVAE-Euc": networks.knn_neighbours(trained.varm["sivae_loadings"], k=k)}
for method, path in zip(snakemake.params.methods, snakemake.input.weights, strict=True):
    weights = np.load(path)
    centralities[method] = networks.gcn_degree_centrality(weights, gene_names=genes)
    neighbours[method] = networks.top_k_from_weights(weights, k=k)

truth = pd.read_csv(snakemake.input.true_centrality, sep="\t").set_index("gene").reindex(genes)
centrality = pd.concat(
    [
        pd.DataFrame({"method": m, "gene": genes, "centrality": c.to_numpy()}).join(
            truth, on="gene"
        )
        for m, c in centralities.items()
    ],
    ignore_index=True,
)

# Held-out cells for the neighbour prediction task: the preprocessing split when it
# has test cells, else a seeded 20 % of the cells.
is_test = (adata.obs["split"] == "test").to_numpy()
if not is_test.any():
    logger.info("%s: no test split; holding out a random 20%% of cells", dataset)
    rng = np.random.default_rng(snakemake.params.seed)
    is_test = rng.random(adata.n_obs) < 0.2
# Query genes: high-centrality genes according to every method (siVAE-GCN excluded:
# it shares its centrality source with siVAE).
query = networks.query_genes(
    {m: c for m, c in centralities.items() if not m.startswith("siVAE-")},
    top_n=settings["top_n"],
)
logger.info("%s: %d query genes", dataset, len(query))
accuracy = pd.concat(
    [
        networks.neighbour_prediction_accuracy(
            x[~is_test],
            x[is_test],
            query,
            neighbourhood,
            gene_names=genes,
            seed=snakemake.params.seed,
        ).assign(method=method)
        for method, neighbourhood in neighbours.items()
    ],
    ignore_index=True,
)

# Overlap of every pair of methods' neighbourhoods of the query genes: Jaccard,
# percent overlap and mean Pearson correlation over the k x k gene pairs.
overlap = networks.neighbour_overlap(neighbours, query, X=x, gene_names=genes)
jaccard = overlap[["method_a", "method_b", "gene", "jaccard", "percent_overlap"]]
correlation = overlap[["method_a", "method_b", "gene", "mean_correlation"]]
neighbour_table = pd.concat(
    [
        pd.DataFrame(
            {"method": m, "gene": genes, "neighbours": [",".join(genes[row]) for row in idx]}
        )
        for m, idx in ((m, np.asarray(n)) for m, n in neighbours.items())
    ],
    ignore_index=True,
)

atomic_write_tsv(centrality, snakemake.output.centrality)
atomic_write_tsv(neighbour_table, snakemake.output.neighbours)
atomic_write_tsv(accuracy, snakemake.output.accuracy)
atomic_write_tsv(jaccard, snakemake.output.jaccard)
atomic_write_tsv(correlation, snakemake.output.correlation)
