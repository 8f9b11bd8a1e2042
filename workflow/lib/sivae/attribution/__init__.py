"""Interpreting cell-embedding spaces post hoc, and what it costs (paper Fig. 3).

- :func:`attribute`: reverse-mode neural-network attribution with captum, one
  output node at a time (saliency, grad × input, DeepLIFT, integrated
  gradients, Shapley value sampling).
- :func:`jacobian`, :func:`forward_attribute`: forward mode, the full per-cell
  Jacobian in about ``n_in`` forward passes; :func:`jacobian_chunks` streams it
  chunk by chunk on the device (atlas scale: 2.2 GB per 1000 cells at F=27998, K=20).
- :func:`gene_relevance`: Gene Relevance (destiny) partial derivatives.
- :func:`attribution_loadings`: the paper's PCA rule turning per-cell
  attributions into genes × K loadings; :func:`agreement_matrix` /
  :func:`agreement_table` compare loadings by Spearman correlation.
- :func:`time_attribution`, :func:`time_training`: the execution-time experiment.

Typical use on a trained model::

    z = model.get_latent_representation()
    a = sivae.attribution.attribute(model.cell_decoder, z, "deeplift")  # (F, C, K)
    ref = sivae.attribution.jacobian(model.cell_decoder, z).mean(axis=0)  # (F, K)
    u = sivae.attribution.attribution_loadings(a, "decoder", sign_reference=ref)
"""

from ._captum import REVERSE_METHODS, attribute
from ._gene_relevance import gene_relevance
from ._jacobian import FORWARD_METHODS, forward_attribute, jacobian, jacobian_chunks
from ._loadings import (
    LAYOUTS,
    agreement_matrix,
    agreement_table,
    attribution_loadings,
    pca_loading,
)
from ._timing import TIMING_COLUMNS, add_training_time, time_attribution, time_training

__all__ = [
    "REVERSE_METHODS",
    "FORWARD_METHODS",
    "LAYOUTS",
    "TIMING_COLUMNS",
    "attribute",
    "jacobian",
    "jacobian_chunks",
    "forward_attribute",
    "gene_relevance",
    "pca_loading",
    "attribution_loadings",
    "agreement_table",
    "agreement_matrix",
    "time_attribution",
    "time_training",
    "add_training_time",
]
