"""Log-likelihoods, KL divergences and penalties used by the siVAE losses.

The element-wise functions return tensors of the broadcast shape of their
inputs; the callers decide how to sum or average. :func:`gaussian_nll`,
:func:`squared_error` and :func:`half_squared_norm` reduce for the caller: they
touch the large ``(cells, genes)`` matrices in as few passes as eager PyTorch
allows, because those passes, not the matmuls, set the speed of an eager
training step at atlas sizes (``benchmarks/step_traffic.py`` counts them).
"""

import math

import torch
import torch.nn.functional as F

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Element-wise log N(x; mean, std²).

    Parameters
    ----------
    x, mean, std
        Broadcastable tensors; ``std`` is the standard deviation (> 0).
    """
    z = (x - mean) / std
    return -0.5 * _LOG_2PI - torch.log(std) - 0.5 * z * z


class _SquaredError(torch.autograd.Function):
    """Row sums of ``(x − mean)²`` whose backward reuses the one saved residual.

    Autograd through ``(x − mean).pow(2).sum(-1)`` writes and reads five
    ``(cells, genes)`` temporaries; this writes the residual once, reduces it in
    one pass and multiplies it by the incoming gradient in the backward.
    """

    generate_vmap_rule = True  # the batched trainer vmaps the loss over models

    @staticmethod
    def forward(x, mean):
        residual = x - mean
        return torch.linalg.vector_norm(residual, dim=-1).square(), residual

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, mean = inputs
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)  # no zero-filled gradient for the residual output
        ctx.save_for_backward(output[1])
        ctx.layouts = ((x.shape, x.dtype), (mean.shape, mean.dtype))

    @staticmethod
    def backward(ctx, grad, _):
        (residual,) = ctx.saved_tensors
        if grad is None:
            return None, None
        coef = 2.0 * grad.unsqueeze(-1)
        (x_shape, x_dtype), (mean_shape, mean_dtype) = ctx.layouts
        grad_x = grad_mean = None
        if ctx.needs_input_grad[0]:
            grad_x = _scaled_residual(residual, coef, x_shape, x_dtype)
        if ctx.needs_input_grad[1]:
            grad_mean = _scaled_residual(residual, -coef, mean_shape, mean_dtype)
        return grad_x, grad_mean


def _scaled_residual(
    residual: torch.Tensor, coef: torch.Tensor, shape: torch.Size, dtype: torch.dtype
) -> torch.Tensor:
    """``residual · coef`` summed to ``shape``, as a gradient of dtype ``dtype``.

    For a bfloat16 autocast input of the residual's shape the product is written
    straight in bfloat16 (one pass) instead of in float32 and then cast by autograd
    (two more). ``out=`` has no ``vmap`` rule, so batched tensors take the plain path.
    """
    if (
        residual.shape == shape
        and dtype != residual.dtype
        and not torch._C._functorch.is_batchedtensor(residual)
    ):
        out = torch.empty(shape, dtype=dtype, device=residual.device)
        return torch.mul(residual, coef, out=out)
    return (residual * coef).sum_to_size(shape)


def squared_error(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``Σ_f (x_f − mean_f)²`` over the last dimension, shape ``broadcast(x, mean).shape[:-1]``.

    Computed in the promoted dtype of ``x`` and ``mean`` (float32 for float32
    observations and a bfloat16 autocast mean).
    """
    return _SquaredError.apply(x, mean)[0]


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``−Σ_f log N(x_f; mean_f, std_f²)`` over the last dimension (per cell).

    ``std`` broadcasts against ``x``. With one std per row (shape ``(..., 1)``, the
    original's default ``variance="cell"``) the sum is
    ``F (½ log 2π + log σ) + ½ Σ_f (x_f − mean_f)² / σ²``, with the residual sum from
    :func:`squared_error`; otherwise it is :func:`gaussian_log_prob` summed.
    """
    if std.dim() == x.dim() and std.shape[-1] == 1 and x.shape[-1] > 1:
        sigma = std.squeeze(-1)
        n = x.shape[-1]
        return (
            n * (0.5 * _LOG_2PI + torch.log(sigma)) + 0.5 * squared_error(x, mean) / sigma.square()
        )
    return -gaussian_log_prob(x, mean, std).sum(-1)


class _HalfSquaredNorm(torch.autograd.Function):
    """``½ ‖p‖²`` in one read of ``p``; its gradient ``g · p`` in one more."""

    generate_vmap_rule = True

    @staticmethod
    def forward(p):
        return 0.5 * torch.linalg.vector_norm(p).square()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        return p * grad.to(p.dtype)


def half_squared_norm(p: torch.Tensor) -> torch.Tensor:
    """``½ Σ p²`` as a scalar of ``p``'s dtype (the L2 penalty of one kernel)."""
    return _HalfSquaredNorm.apply(p)


def nb_log_prob(
    x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """Element-wise negative-binomial (gamma-Poisson) log-likelihood.

    Parametrised by the mean ``mu`` and the inverse dispersion ``theta`` so that
    ``Var[x] = mu + mu² / theta``. This is ``Poisson(x; l·m)`` with
    ``m ~ Gamma(shape=theta, rate=theta / mu)`` integrated out (paper eqs. 16–17).
    """
    log_theta_mu = torch.log(theta + mu + eps)
    return (
        theta * (torch.log(theta + eps) - log_theta_mu)
        + x * (torch.log(mu + eps) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1.0)
    )


def kl_standard_normal(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Element-wise KL(N(mean, std²) ‖ N(0, 1)), i.e. KL(q ‖ p) with p the prior."""
    return 0.5 * (std * std + mean * mean - 1.0) - torch.log(std)


def positive(x: torch.Tensor, floor: float = 1e-5) -> torch.Tensor:
    """Map an unconstrained tensor to (floor, inf) with softplus, as the original code."""
    return F.softplus(x) + floor


def inverse_positive(y: float, floor: float = 1e-5) -> float:
    """Inverse of :func:`positive` for a scalar: the pre-activation giving ``y``."""
    v = max(y - floor, 1e-12)
    # softplus⁻¹(v) = log(expm1(v)), written stably for large v
    return v + math.log(-math.expm1(-v))
