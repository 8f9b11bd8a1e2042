"""The user-facing siVAE model."""

from collections.abc import Sequence

import anndata as ad
import pandas as pd
import torch

from ._base import BaseModel


class SIVAE(BaseModel):
    """siVAE: jointly inferred, interpretable cell and feature (gene) embeddings.

    Variants of the paper from one code path: the default siVAE; ``gamma=0``
    (no interpretability term); ``linear=True`` (siVAE-linear, eqs. 19–20);
    ``likelihood="nb"`` on raw counts (siVAE-NB, eqs. 14–18; register the counts
    layer with :meth:`setup_anndata`); batch correction via ``batch_key`` /
    continuous covariates in :meth:`setup_anndata` (eqs. 21–23).

    Parameters
    ----------
    adata
        Cells × genes AnnData, registered with :meth:`setup_anndata`.
    n_latent
        Embedding dimension ``K`` (2 for visualisation in the paper).
    gamma
        Interpretability-term weight γ (paper default 0.05).
    hidden
        Encoder hidden sizes; paper default ``(1024, 512, 128)`` (LargeBrainAtlas:
        ``(2048, 1024, 512)``, images ``(512, 128)``). Decoders mirror them.
    y_dim
        Width of the decoders' last linear layer; default ``hidden[0]``.
    linear
        siVAE-linear: identity decoders, mean ``z_c · v_g + b_g``.
    likelihood
        ``"gaussian"`` (scaled expression) or ``"nb"`` (counts).
    variance
        Observation scale per ``"cell"``, ``"gene"`` or ``"cell_gene"``; for NB it is
        the inverse dispersion. Default ``None``: as the original code, one σ per cell
        for ``"gaussian"`` (``"cell"``) and one inverse dispersion per gene for ``"nb"``
        (``"gene"``, also scVI's and LDVAE's default).
    feature_input
        Feature-encoder input: ``"subsample"`` of ``n_feature_input`` cells
        (stratified by ``labels_key``), ``"pca"`` (first ``n_feature_input`` PCs of
        ``Xᵀ``) or ``"full"``.
    n_feature_input
        ``C_red``; default ``min(n_cells, 10000)``.
    l2
        Weight λ of the ``½‖W‖²`` kernel penalty (paper searched 1e-3, 1e-2).
    seed
        Seeds initial weights, minibatch order, sampling noise and subsampling.
    """

    _feature_side = True

    def __init__(
        self,
        adata: ad.AnnData,
        n_latent: int = 2,
        gamma: float = 0.05,
        hidden: Sequence[int] = (1024, 512, 128),
        y_dim: int | None = None,
        linear: bool = False,
        likelihood: str = "gaussian",
        variance: str | None = None,
        feature_input: str = "subsample",
        n_feature_input: int | None = None,
        l2: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__(
            adata,
            n_latent=n_latent,
            gamma=float(gamma),
            hidden=list(hidden),
            y_dim=y_dim,
            linear=bool(linear),
            likelihood=likelihood,
            variance=variance,
            feature_input=feature_input,
            n_feature_input=n_feature_input,
            l2=float(l2),
            seed=int(seed),
        )

    @torch.no_grad()
    def get_loadings(self) -> pd.DataFrame:
        """Posterior means of the feature embeddings ``v_{g,1}``: (n_genes, n_latent)."""
        self.module.eval()
        return self._loadings_frame(self.module.encode_features()[0])

    @torch.no_grad()
    def get_feature_embedding_std(self) -> pd.DataFrame:
        """Posterior standard deviations of ``v_{g,1}``, same layout as :meth:`get_loadings`."""
        self.module.eval()
        return self._loadings_frame(self.module.encode_features()[1])
