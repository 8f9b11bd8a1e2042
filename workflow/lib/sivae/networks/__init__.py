"""Gene co-expression networks: inference, degree centrality and neighbourhoods.

Arrays in, arrays out; nothing here imports model code.

Network inference (minet / arboreto re-implementations):
:func:`mutual_information`, :func:`clr`, :func:`aracne`, :func:`mrnet`,
:func:`grnboost2`, and :func:`infer_network` from expression to weights.

Degree centrality: :func:`gcn_degree_centrality` (mean edge weight) and the
paper's ground truth :func:`true_degree_centrality`.

Gene neighbourhoods and their benchmark: :func:`knn_neighbours` (siVAE-Euc),
:func:`top_k_from_weights` (GCN methods), :func:`sivae_gcn_neighbours`,
:func:`query_genes`, :func:`neighbour_prediction_accuracy`,
:func:`jaccard_matrix`, :func:`mean_correlation`, :func:`neighbour_overlap`.
"""

from ._centrality import gcn_degree_centrality, true_degree_centrality
from ._gcn import aracne, clr, mrnet
from ._grnboost import GRNBOOST2_KWARGS, grnboost2
from ._infer import GCN_METHODS, infer_network
from ._mi import discretize_equalfreq, mutual_information
from ._neighbours import (
    jaccard_matrix,
    knn_neighbours,
    mean_correlation,
    neighbour_overlap,
    neighbour_prediction_accuracy,
    query_genes,
    sivae_gcn_neighbours,
    top_k_from_weights,
)

__all__ = [
    "GCN_METHODS",
    "GRNBOOST2_KWARGS",
    "aracne",
    "clr",
    "discretize_equalfreq",
    "gcn_degree_centrality",
    "grnboost2",
    "infer_network",
    "jaccard_matrix",
    "knn_neighbours",
    "mean_correlation",
    "mrnet",
    "mutual_information",
    "neighbour_overlap",
    "neighbour_prediction_accuracy",
    "query_genes",
    "sivae_gcn_neighbours",
    "top_k_from_weights",
    "true_degree_centrality",
]
