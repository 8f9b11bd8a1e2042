"""Canonical VAE and the LDVAE-like linear-decoder VAE baselines."""

from collections.abc import Sequence

import anndata as ad
import pandas as pd

from ._base import BaseModel


class VAE(BaseModel):
    """A VAE matched to siVAE's cell-wise encoder–decoder (stage 1 of siVAE only).

    ``linear_decoder=True`` with ``likelihood="nb"`` on raw counts is the
    LDVAE-like "VAE (linear)" baseline of the paper: the decoder is a single
    linear layer (plus a per-gene bias), whose weights are returned by
    :meth:`get_loadings`, and the NB inverse dispersion is one per gene, as in
    LDVAE. Unlike scVI's LDVAE it has no batch norm or dropout and uses the
    observed library size.

    Parameters
    ----------
    adata
        Cells × genes AnnData, registered with :meth:`setup_anndata`.
    n_latent
        Embedding dimension ``K``.
    linear_decoder
        Single linear decoder layer ``x̂_c = W z_c + b``.
    likelihood
        ``"gaussian"`` or ``"nb"``.
    hidden, y_dim, variance, l2, seed
        As for :class:`~sivae.SIVAE`.
    """

    _feature_side = False

    def __init__(
        self,
        adata: ad.AnnData,
        n_latent: int = 2,
        linear_decoder: bool = False,
        likelihood: str = "gaussian",
        hidden: Sequence[int] = (1024, 512, 128),
        y_dim: int | None = None,
        variance: str | None = None,
        l2: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__(
            adata,
            n_latent=n_latent,
            hidden=list(hidden),
            y_dim=y_dim,
            linear=bool(linear_decoder),
            likelihood=likelihood,
            variance=variance,
            l2=float(l2),
            seed=int(seed),
            feature_input=None,
            n_feature_input=None,
        )

    def get_loadings(self) -> pd.DataFrame:
        """Linear-decoder weights (n_genes, n_latent), the LDVAE convention.

        Raises ``ValueError`` for a non-linear VAE, which has no per-gene embedding.
        """
        if not self.params["linear"]:
            raise ValueError(
                "a non-linear VAE has no gene loadings; use VAE(linear_decoder=True), "
                "SIVAE, or attribution methods (sivae.attribution)"
            )
        return self._loadings_frame(self.module.gene_weight)
