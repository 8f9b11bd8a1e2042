"""Many small independent MLPs trained at once as one batched network.

The ground-truth centrality (one network per query gene) and the neighbour
benchmark (one network per query gene and method) each need thousands of
small regressions. Stacking their weights as ``(n_nets, d_in, d_out)`` tensors
and using ``torch.baddbmm`` trains them together. Every network sees the same
minibatches of cells, the loss is the sum of the networks' losses and Adam is
elementwise, so each network is trained exactly as it would be alone; each
network's initial weights come from its own seed, so results do not depend on
how networks are grouped into batches.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _init_layers(sizes: Sequence[int], net_seeds: Sequence[int]) -> list[torch.Tensor]:
    """Per-network weights/biases, uniform ±1/sqrt(fan_in) like ``torch.nn.Linear``."""
    params = []
    for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        bound = 1.0 / np.sqrt(d_in)
        weights, biases = [], []
        for s in net_seeds:
            state = np.random.SeedSequence([int(s), layer]).generate_state(1, dtype=np.uint64)[0]
            gen = torch.Generator().manual_seed(int(state))
            weights.append(torch.empty(d_in, d_out).uniform_(-bound, bound, generator=gen))
            biases.append(torch.empty(1, d_out).uniform_(-bound, bound, generator=gen))
        params += [torch.stack(weights), torch.stack(biases)]
    return params


def _forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``x``: (n_nets, batch, d_in) → (n_nets, batch, d_out); ReLU between layers."""
    n_layers = len(params) // 2
    for layer in range(n_layers):
        x = torch.baddbmm(params[2 * layer + 1], x, params[2 * layer])
        if layer < n_layers - 1:
            x = torch.relu(x)
    return x


def fit_predict_batched(
    inputs_train: torch.Tensor,
    targets_train: torch.Tensor,
    inputs_test: torch.Tensor,
    hidden: Sequence[int],
    net_seeds: Sequence[int],
    target_mask: torch.Tensor | None = None,
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Train ``n_nets`` MLPs with MSE loss and return their test predictions.

    Parameters
    ----------
    inputs_train
        ``(n_nets, n_train, d_in)``.
    targets_train
        ``(n_nets, n_train, d_out)``, or ``(1, n_train, d_out)`` shared by all networks.
    inputs_test
        ``(n_nets, n_test, d_in)``.
    hidden
        Hidden layer sizes (ReLU), e.g. ``(16, 8, 4)``.
    net_seeds
        One seed per network for its initial weights.
    target_mask
        Optional ``(n_nets, 1, d_out)`` 0/1 float: outputs left out of the loss
        (a query gene is not its own target).
    epochs, batch_size, lr
        Adam on minibatches of cells, reshuffled every epoch with ``seed``.
    device
        Where to train.

    Returns
    -------
    ``(n_nets, n_test, d_out)`` float32 predictions on CPU.
    """
    device = resolve_device(device)
    n_nets, n_train, d_in = inputs_train.shape
    d_out = targets_train.shape[-1]
    params = [
        p.to(device).requires_grad_() for p in _init_layers([d_in, *hidden, d_out], net_seeds)
    ]
    inputs_train = inputs_train.to(device)
    targets_train = targets_train.to(device)
    mask = None if target_mask is None else target_mask.to(device)
    n_outputs = d_out if mask is None else mask.sum(dim=(1, 2)).clamp(min=1)
    optimizer = torch.optim.Adam(params, lr=lr)
    order_gen = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, n_train)
    for _ in range(epochs):
        order = torch.randperm(n_train, generator=order_gen).to(device)
        for start in range(0, n_train, batch_size):
            idx = order[start : start + batch_size]
            residual = _forward(params, inputs_train[:, idx]) - targets_train[:, idx]
            sq = residual.square() if mask is None else residual.square() * mask
            # Sum over networks of each network's mean squared error: networks stay independent.
            loss = (sq.sum(dim=(1, 2)) / (idx.numel() * n_outputs)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return _forward(params, inputs_test.to(device)).float().cpu()


def variance_explained(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``1 - Var(truth - prediction) / Var(truth)`` along axis -2 (cells).

    Shapes ``(..., n_cells, n_outputs)`` → ``(..., n_outputs)``; NaN where the
    truth is constant, to within float rounding.
    """
    truth = np.asarray(truth)
    var_truth = truth.var(axis=-2)
    var_resid = (truth - prediction).var(axis=-2)
    # A gene constant on these cells but standardised with other cells' statistics
    # keeps a rounding-level variance (~1e-14 in float32); dividing by it gave
    # centralities of -1e9 on pbmc68k_reduced.
    dtype = truth.dtype if np.issubdtype(truth.dtype, np.floating) else np.float64
    level = np.abs(truth).max(axis=-2)
    floor = (100 * np.finfo(dtype).eps * level) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var_truth > floor, 1.0 - var_resid / var_truth, np.nan)
