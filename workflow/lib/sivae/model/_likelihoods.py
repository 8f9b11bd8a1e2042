"""Log-likelihoods and KL divergences used by the siVAE losses.

All functions work element-wise and return tensors of the broadcast shape of
their inputs; the callers decide how to sum or average.
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
