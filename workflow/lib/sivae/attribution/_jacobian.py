"""Forward-mode attribution: the full Jacobian of a module, per cell.

``torch.func.jacfwd`` pushes one tangent per *input* node, so the whole
``n_out × n_in`` Jacobian of a decoder (``n_in = K`` latent dimensions) costs
about ``K`` forward passes instead of the ``F`` backward passes of the
per-output reverse loop. This is the paper's forward mode (tensorflow-forward-ad
with one mask per input node), computed in one vectorised call.

Saliency is the Jacobian itself; grad × input is the Jacobian times the
**input** (the original code multiplied by the output, a bug we do not copy).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ._captum import eval_mode, numpy_dtype, prepare_inputs

logger = logging.getLogger(__name__)

__all__ = ["FORWARD_METHODS", "jacobian", "forward_attribute"]

#: Attribution methods available in forward mode.
FORWARD_METHODS = ("saliency", "grad_x_input")


def _jacobian_tensor(
    module: torch.nn.Module, x: torch.Tensor, chunk_size: int
) -> list[torch.Tensor]:
    def single(cell: torch.Tensor) -> torch.Tensor:
        # One cell at a time: vmap adds the batch dimension back.
        return module(cell.unsqueeze(0)).squeeze(0)

    jac = torch.func.vmap(torch.func.jacfwd(single))
    chunks = []
    with eval_mode(module), torch.no_grad():
        for start in range(0, x.shape[0], chunk_size):
            chunks.append(jac(x[start : start + chunk_size]))
    return chunks


def jacobian(
    module: torch.nn.Module,
    inputs,
    chunk_size: int = 1024,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Per-cell Jacobian of ``module`` by forward-mode autodiff.

    Parameters
    ----------
    module
        ``torch.nn.Module`` mapping ``(batch, n_in)`` to ``(batch, n_out)``; must be
        composable with ``torch.func`` (no in-place tricks on inputs, no batch-norm
        in training mode; it is evaluated in eval mode).
    inputs
        Array-like ``(n_cells, n_in)``.
    chunk_size
        Cells per vectorised call; bounds memory at ``chunk_size × n_out × n_in``.
    device
        Torch device.

    Returns
    -------
    np.ndarray
        ``(n_cells, n_out, n_in)`` with ``J[c, o, i] = ∂y_o/∂x_i`` at cell ``c``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    x, _ = prepare_inputs(module, inputs, device)
    chunks = _jacobian_tensor(module, x, chunk_size)
    return np.concatenate([c.cpu().numpy() for c in chunks], axis=0).astype(
        numpy_dtype(x), copy=False
    )


def forward_attribute(
    module: torch.nn.Module,
    inputs,
    method: str,
    chunk_size: int = 1024,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Forward-mode saliency or grad × input, in the layout of :func:`attribute`.

    Parameters
    ----------
    module, inputs, chunk_size, device
        As in :func:`jacobian`.
    method
        ``"saliency"`` (signed gradient) or ``"grad_x_input"`` (gradient × input).

    Returns
    -------
    np.ndarray
        ``(n_out, n_cells, n_in)``, the same layout as the reverse-mode
        :func:`~sivae.attribution.attribute`, so both feed
        :func:`~sivae.attribution.attribution_loadings` unchanged.
    """
    if method not in FORWARD_METHODS:
        raise ValueError(
            f"method {method!r} has no forward mode here; choose from {FORWARD_METHODS}"
        )
    x, _ = prepare_inputs(module, inputs, device)
    jac = jacobian(module, x, chunk_size=chunk_size, device=device)  # (C, n_out, n_in)
    if method == "grad_x_input":
        jac = jac * x.cpu().numpy()[:, None, :]
    return np.ascontiguousarray(jac.transpose(1, 0, 2))
