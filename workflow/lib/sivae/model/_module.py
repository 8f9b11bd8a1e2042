"""The siVAE torch module and its loss terms (paper eqs. 4–23).

One module covers every variant:

* ``feature_side=True``: siVAE. The per-gene output weights ``W_g`` of the cell
  decoder come from the feature decoder applied to a sample of ``q(v_g)``;
  ``feature_side=False``: a canonical VAE where ``W`` is a free parameter.
* ``linear=True``: the decoders are the identity, so ``x̂_cg = z_c · v_g + b_g``
  (siVAE-linear, eqs. 19–20) or ``z_c · W_g + b_g`` (VAE-linear / LDVAE-like).
* ``likelihood="nb"``: ``x̂`` are logits of the expression proportions ``ρ``
  (eq. 15), observations are counts with mean ``l_c ρ_cg`` (eqs. 14–18).

The module knows nothing of AnnData: it takes dense tensors of shape
``(batch, n_genes)`` and the covariate matrix ``s`` of shape ``(batch, n_cov)``.
"""

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._data import standardise
from ._likelihoods import (
    gaussian_log_prob,
    gaussian_nll,
    half_squared_norm,
    kl_standard_normal,
    nb_log_prob,
    positive,
    squared_error,
)
from ._modules import GaussianEncoder, ScaleHead, YDecoder


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 when autocast left it in a 16-bit type, else unchanged (float64 stays)."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class PresampledNoise:
    """Stands in for a ``torch.Generator``: hands out pre-drawn ``ε`` tensors in order.

    ``torch.func.vmap`` and ``torch.compile`` cannot draw from a ``torch.Generator``;
    the batched and compiled trainers draw the same numbers outside (same generator,
    same order and shapes as the eager loss would) and pass them in through this.
    """

    def __init__(self, eps: Sequence[torch.Tensor]) -> None:
        self.eps = list(eps)
        self.used = 0

    def draw(self, mean: torch.Tensor) -> torch.Tensor:
        eps = self.eps[self.used]
        self.used += 1
        return eps


def reparameterize(
    mean: torch.Tensor, std: torch.Tensor, generator: "torch.Generator | PresampledNoise | None"
) -> torch.Tensor:
    """Draw ``mean + std · ε`` with ``ε ~ N(0, I)`` from ``generator`` (for reproducibility)."""
    if isinstance(generator, PresampledNoise):
        eps = generator.draw(mean)
    else:
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + std * eps


class SIVAEModule(nn.Module):
    """Cell-wise and (optionally) feature-wise encoder–decoders with the siVAE losses.

    Parameters
    ----------
    n_genes
        Number of features ``F``.
    n_latent
        Latent dimension ``K`` shared by cells and features.
    n_covariates
        Width of the covariate vector ``s_c`` (one-hot batches + continuous keys).
    n_feature_input
        ``C_red``, the width of the feature encoder's input ``X[:, f]``.
    hidden
        Encoder hidden sizes in encoder order; decoders use ``hidden[1:]`` reversed
        and then a linear "y" layer of width ``y_dim`` (default ``hidden[0]``).
    feature_side, linear, likelihood, variance
        See the module docstring and :class:`~sivae.model._modules.ScaleHead`.
    gamma
        Weight of the interpretability term (eq. 13); unused without a feature side
        or with ``linear=True`` (there the reconstruction term already is linear).
    l2
        Scale ``λ`` of the ``½‖W‖²`` penalty on kernels.
    generator
        Source of the initial weights (the global RNG when ``None``); a seeded
        generator gives the same weights in any thread.
    """

    def __init__(
        self,
        n_genes: int,
        n_latent: int,
        n_covariates: int = 0,
        n_feature_input: int = 0,
        hidden: Sequence[int] = (1024, 512, 128),
        y_dim: int | None = None,
        feature_side: bool = True,
        linear: bool = False,
        likelihood: str = "gaussian",
        variance: str = "cell",
        gamma: float = 0.05,
        l2: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if likelihood not in ("gaussian", "nb"):
            raise ValueError(f"likelihood must be 'gaussian' or 'nb', got {likelihood!r}")
        hidden = tuple(int(h) for h in hidden)
        if not hidden:
            raise ValueError("hidden must list at least one encoder layer size")
        self.n_genes, self.n_latent, self.n_covariates = n_genes, n_latent, n_covariates
        self.feature_side, self.linear, self.likelihood = feature_side, linear, likelihood
        self.gamma, self.l2 = float(gamma), float(l2)
        decoder_hidden = tuple(reversed(hidden[1:]))
        y_dim = hidden[0] if y_dim is None else int(y_dim)

        self.cell_encoder = GaussianEncoder(n_genes + n_covariates, hidden, n_latent, generator)
        dec_in = n_latent if linear else n_latent + n_covariates
        self.cell_decoder = YDecoder(dec_in, decoder_hidden, y_dim, linear, generator)
        y_dim = self.cell_decoder.y_dim
        # Stage-1 output kernel ṽ_{g,L} (eq. 3's v_f); the free loadings of a VAE.
        self.gene_weight = nn.Parameter(torch.empty(n_genes, y_dim))
        nn.init.xavier_normal_(self.gene_weight, generator=generator)
        self.gene_bias = nn.Parameter(torch.zeros(n_genes))
        if linear and n_covariates:
            # with y = z the covariates cannot enter through the decoder (eq. 21)
            self.batch_weight = nn.Parameter(torch.zeros(n_genes, n_covariates))
        else:
            self.register_parameter("batch_weight", None)
        self.scale_head = ScaleHead(variance, y_dim, n_genes)

        if feature_side:
            if n_feature_input < 1:
                raise ValueError("a feature side needs n_feature_input >= 1")
            self.feature_encoder = GaussianEncoder(n_feature_input, hidden, n_latent, generator)
            self.feature_decoder = YDecoder(n_latent, decoder_hidden, y_dim, linear, generator)
            # stage-2 regression noise on ṽ (pre-softplus); reset to the targets' std
            self.feature_noise = nn.Parameter(torch.zeros(()))
            self.interp_bias = nn.Parameter(torch.zeros(n_genes))
            self.interp_batch = nn.Parameter(torch.zeros(n_genes, n_covariates))
            self.register_buffer("feature_input", torch.zeros(n_genes, n_feature_input))
        else:
            self.feature_encoder = self.feature_decoder = None

    # ------------------------------------------------------------------ pieces
    def stage_parameters(self, stage: int) -> list[nn.Parameter]:
        """Parameters optimised in stage 1 (cell VAE), 2 (feature VAE) or 3 (joint)."""
        cell = [
            *self.cell_encoder.parameters(),
            *self.cell_decoder.parameters(),
            *self.scale_head.parameters(),
            self.gene_bias,
        ]
        if self.batch_weight is not None:
            cell.append(self.batch_weight)
        if stage == 1:
            return [*cell, self.gene_weight]
        feature = [*self.feature_encoder.parameters(), *self.feature_decoder.parameters()]
        if stage == 2:
            return [*feature, self.feature_noise]
        return [*cell, *feature, self.interp_bias, self.interp_batch]

    def _kernels(self, stage: int) -> Iterable[torch.Tensor]:
        mods = [self.cell_encoder, self.cell_decoder, self.scale_head]
        if stage >= 2:
            mods = [self.feature_encoder, self.feature_decoder] + (mods if stage == 3 else [])
        for mod in mods:
            for name, p in mod.named_parameters():
                if name.endswith("weight") and p.ndim == 2:
                    yield p
        if stage == 1:
            yield self.gene_weight

    def l2_penalty(self, stage: int) -> torch.Tensor:
        """``½ Σ ‖W‖²`` over the kernels trained in ``stage`` (biases excluded)."""
        return torch.stack([half_squared_norm(p) for p in self._kernels(stage)]).sum()

    def encode_cells(self, x: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``q(z_c | x_c, s_c)``: mean and std of shape ``(batch, K)``."""
        if self.n_covariates:
            x = torch.cat([x, s], dim=-1)
        return self.cell_encoder(x)

    def encode_features(self, idx: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``q(v_g | X[:, g])`` for genes ``idx`` (all by default): ``(n, K)`` mean and std."""
        inp = self.feature_input if idx is None else self.feature_input[idx]
        return self.feature_encoder(inp)

    def decode_y(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Last decoder layer ``y_c = z_{c,L}`` of shape ``(batch, y_dim)`` (eq. 21 for ``s``)."""
        if self.n_covariates and not self.linear:
            z = torch.cat([z, s], dim=-1)
        return self.cell_decoder(z)

    def output_mean(self, y: torch.Tensor, weight: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``x̂ = y Wᵀ + b`` (+ ``s Bᵀ`` for linear decoders), shape ``(batch, F)``.

        One matmul with the bias in its epilogue: under bf16 autocast ``x̂`` stays
        bf16 (half the bytes of every later pass over it).
        """
        if self.batch_weight is not None:
            y, weight = torch.cat([y, s], dim=-1), torch.cat([weight, self.batch_weight], dim=-1)
        return F.linear(y, weight, self.gene_bias)

    def log_likelihood(
        self, x: torch.Tensor, out: torch.Tensor, y: torch.Tensor, library: torch.Tensor | None
    ) -> torch.Tensor:
        """Element-wise ``log p(x | ·)``; ``out`` from :meth:`output_mean`."""
        scale = full_precision(self.scale_head(y))
        if self.likelihood == "gaussian":
            return gaussian_log_prob(x, full_precision(out), scale)
        return nb_log_prob(x, self.expected_value(out, library), scale)

    def reconstruction_nll(
        self, x: torch.Tensor, out: torch.Tensor, y: torch.Tensor, library: torch.Tensor | None
    ) -> torch.Tensor:
        """``−Σ_g log p(x_cg | ·)`` per cell, shape ``(batch,)``; the sum of :meth:`log_likelihood`."""
        if self.likelihood == "gaussian":
            return gaussian_nll(x, out, full_precision(self.scale_head(y)))
        return -self.log_likelihood(x, out, y, library).sum(-1)

    def expected_value(self, out: torch.Tensor, library: torch.Tensor | None) -> torch.Tensor:
        """Posterior-predictive mean of ``x`` given :meth:`output_mean`'s ``out`` (not 16-bit)."""
        out = full_precision(out)
        if self.likelihood == "gaussian":
            return out
        return library * torch.softmax(out, dim=-1)

    def reconstruction_error_sums(
        self,
        x_in: torch.Tensor,
        s: torch.Tensor,
        library: torch.Tensor | None,
        weight: torch.Tensor,
        shift: torch.Tensor,
        inv_std: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior-mean pass: ``(mean of q(z) (batch, K), Σ_c (x_in − x̂)² per gene (F,))``.

        ``weight`` is the output kernel (:meth:`posterior_gene_weight`). The error is
        in float64 on the standardised scale: NB models' expected counts are
        standardised with the training statistics ``shift, inv_std``
        (:meth:`~sivae.model._data.InputTransform.tensors`), as their input was.
        """
        qz_m, _ = self.encode_cells(x_in, s)
        out = self.output_mean(self.decode_y(qz_m, s), weight, s)
        recon = self.expected_value(out, library)
        if self.likelihood == "nb":
            recon = standardise(recon, shift, inv_std, log1p=True)
        return qz_m, (x_in - recon).double().pow(2).sum(0)

    # ------------------------------------------------------------------ losses
    def cell_loss(
        self,
        x_in: torch.Tensor,
        x_obs: torch.Tensor,
        s: torch.Tensor,
        library: torch.Tensor | None,
        beta: float,
        joint: bool,
        generator: torch.Generator | None = None,
        sample: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Loss of stage 1 (``joint=False``) or stage 3 (``joint=True``) on a cell minibatch.

        Terms are per cell: reconstruction ``-Σ_g log p(x_cg)`` and the cell KL
        ``Σ_k KL(q(z_c)‖N(0,1))`` are averaged over cells; the feature KL is averaged
        over genes; the interpretability term is ``mean_c Σ_g (x_cg − z_c·v_g − b_g − j_g·s_c)²``
        on sampled ``z, v``. ``sample=False`` uses posterior means (for validation).

        Parameters
        ----------
        x_in
            Encoder input (standardised expression), ``(batch, F)``.
        x_obs
            Observations scored by the likelihood (``x_in`` itself or raw counts).
        """
        qz_m, qz_s = self.encode_cells(x_in, s)
        z = reparameterize(qz_m, qz_s, generator) if sample else qz_m
        y = self.decode_y(z, s)
        zero = x_in.new_zeros(())
        if joint:
            qv_m, qv_s = self.encode_features()
            v = reparameterize(qv_m, qv_s, generator) if sample else qv_m
            weight = self.feature_decoder(v)
            kl_feature = (
                kl_standard_normal(full_precision(qv_m), full_precision(qv_s)).sum(-1).mean()
            )
        else:
            weight, kl_feature = self.gene_weight, zero
        out = self.output_mean(y, weight, s)
        reconstruction = self.reconstruction_nll(x_obs, out, y, library).mean()
        kl_cell = kl_standard_normal(full_precision(qz_m), full_precision(qz_s)).sum(-1).mean()
        interpretability = zero
        if joint and not self.linear and self.gamma > 0:
            # z·v_g + b_g + j_g·s_c as one matmul with the bias in its epilogue
            if self.n_covariates:
                z, v = torch.cat([z, s], dim=-1), torch.cat([v, self.interp_batch], dim=-1)
            linear_fit = F.linear(z, v, self.interp_bias)
            interpretability = squared_error(x_in, linear_fit).mean()
        l2 = self.l2_penalty(3 if joint else 1)
        total = (
            reconstruction
            + beta * (kl_cell + kl_feature)
            + self.gamma * interpretability
            + self.l2 * l2
        )
        return {
            "total": total,
            "reconstruction": reconstruction,
            "kl_cell": kl_cell,
            "kl_feature": kl_feature,
            "interpretability": interpretability,
            "l2": l2,
        }

    def feature_loss(
        self,
        idx: torch.Tensor,
        target: torch.Tensor,
        beta: float,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Stage-2 loss on a gene minibatch: a VAE from ``X[:, g]`` to the stage-1 ``ṽ_g``.

        ``target`` is ``gene_weight[idx]`` (detached), shape ``(n, y_dim)``; the
        regression noise is one learned std, ``softplus(feature_noise) + 1e-5``.
        """
        qv_m, qv_s = self.encode_features(idx)
        v = reparameterize(qv_m, qv_s, generator)
        pred = full_precision(self.feature_decoder(v))
        noise = positive(self.feature_noise)
        reconstruction = -gaussian_log_prob(target, pred, noise).sum(-1).mean()
        kl_feature = kl_standard_normal(full_precision(qv_m), full_precision(qv_s)).sum(-1).mean()
        l2 = self.l2_penalty(2)
        zero = target.new_zeros(())
        return {
            "total": reconstruction + beta * kl_feature + self.l2 * l2,
            "reconstruction": reconstruction,
            "kl_cell": zero,
            "kl_feature": kl_feature,
            "interpretability": zero,
            "l2": l2,
        }

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def posterior_gene_weight(self) -> torch.Tensor:
        """Output kernel ``W`` (F, y_dim) from the feature posterior means (or the VAE's)."""
        if not self.feature_side:
            return self.gene_weight
        qv_m, _ = self.encode_features()
        return self.feature_decoder(qv_m)


class CellDecoderMean(nn.Module):
    """``z (batch, K) → E[x | z]`` (batch, F) with a fixed feature side and covariate.

    For attribution methods. The feature side is frozen at the posterior-mean
    loadings; NB models return expected counts at the mean library size.
    """

    def __init__(
        self, module: SIVAEModule, covariate: torch.Tensor, library: float | None = None
    ) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("weight", module.posterior_gene_weight().detach().clone())
        self.register_buffer("covariate", covariate.reshape(1, -1))
        self.library = library

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = self.covariate.expand(z.shape[0], -1)
        out = self.module.output_mean(self.module.decode_y(z, s), self.weight, s)
        return self.module.expected_value(out, self.library)


class CellEncoderMean(nn.Module):
    """``x (batch, F) → mean of q(z | x)`` (batch, K); ``x`` in the model's input scale."""

    def __init__(self, module: SIVAEModule, covariate: torch.Tensor) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("covariate", covariate.reshape(1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.covariate.expand(x.shape[0], -1)
        return self.module.encode_cells(x, s)[0]
