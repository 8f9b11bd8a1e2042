"""Reverse-mode feature attribution with captum, one output node at a time.

This is the paper's reverse mode (Methods, "Feature attribution methods"): the
original used DeepExplain with a binary mask selecting a single target node, so
a network with ``n_out`` outputs costs ``n_out`` backward sweeps per method. We
keep that cost structure on purpose, because it is what the timing experiment
(Fig. 3b-d) measures.

Sign convention: ``"saliency"`` returns the **signed** gradient
:math:`\\partial y_o / \\partial x_i`. DeepExplain's saliency map is the absolute
gradient, but an absolute value cannot be compared with signed loadings (siVAE's
:math:`v_{f,1}` or PCA loadings), so the signed gradient is the meaningful input
to :func:`~sivae.attribution.attribution_loadings`. Pass ``abs_saliency=True``
for the DeepExplain definition.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

__all__ = ["REVERSE_METHODS", "attribute"]

#: Attribution methods available in reverse mode (captum class behind each).
REVERSE_METHODS = ("saliency", "grad_x_input", "deeplift", "integrated_gradients", "shapley")


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``module`` in eval mode for the duration of the block, then restore it.

    Attributions must not see dropout noise or update batch-norm statistics, and
    the caller's training flag is theirs to keep.
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def _module_dtype(module: torch.nn.Module) -> torch.dtype | None:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def prepare_inputs(
    module: torch.nn.Module, inputs, device: str | torch.device = "cpu", name: str = "inputs"
) -> tuple[torch.Tensor, int]:
    """Validate ``inputs`` (cells × n_in) against ``module`` and move both to ``device``.

    Parameters
    ----------
    module
        A ``torch.nn.Module`` mapping ``(batch, n_in)`` to ``(batch, n_out)``.
    inputs
        Array-like of shape ``(n_cells, n_in)``.
    device
        Torch device for the computation.
    name
        Name used in error messages.

    Returns
    -------
    inputs
        Float tensor on ``device`` in the module's parameter dtype.
    n_out
        Number of module outputs, found with a forward pass on one cell.

    Raises
    ------
    ValueError
        If ``inputs`` is not 2-D, is empty, holds non-finite values, or the module
        does not accept it or does not return a 2-D ``(batch, n_out)`` output.
    """
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs) else inputs)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_cells, n_in) array, got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    dtype = _module_dtype(module) or (x.dtype if x.is_floating_point() else torch.float32)
    x = x.detach().to(device=device, dtype=dtype)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    module.to(device)
    with torch.no_grad(), eval_mode(module):
        try:
            y = module(x[:1])
        except RuntimeError as err:
            raise ValueError(
                f"module does not accept {name} of shape (batch, {x.shape[1]}): {err}"
            ) from err
    if not torch.is_tensor(y) or y.ndim != 2 or y.shape[0] != 1:
        shape = tuple(y.shape) if torch.is_tensor(y) else type(y).__name__
        raise ValueError(
            f"module must map (batch, n_in) to a 2-D (batch, n_out) tensor; got {shape} for batch 1"
        )
    return x, int(y.shape[1])


def numpy_dtype(x: torch.Tensor) -> np.dtype:
    """The numpy dtype matching a torch tensor's dtype."""
    return torch.empty(0, dtype=x.dtype).numpy().dtype


def check_targets(targets: Sequence[int] | None, n_out: int) -> list[int]:
    """Output indices to attribute; all ``n_out`` when ``targets`` is ``None``."""
    if targets is None:
        return list(range(n_out))
    out = [int(t) for t in targets]
    bad = [t for t in out if not 0 <= t < n_out]
    if bad:
        raise ValueError(f"targets {bad[:5]} out of range for a module with {n_out} outputs")
    return out


def _explainer(method: str, module: torch.nn.Module):
    from captum.attr import (
        DeepLift,
        InputXGradient,
        IntegratedGradients,
        Saliency,
        ShapleyValueSampling,
    )

    classes = {
        "saliency": Saliency,
        "grad_x_input": InputXGradient,
        "deeplift": DeepLift,
        "integrated_gradients": IntegratedGradients,
        "shapley": ShapleyValueSampling,
    }
    return classes[method](module)


def attribute(
    module: torch.nn.Module,
    inputs,
    method: str,
    targets: Sequence[int] | None = None,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
    *,
    abs_saliency: bool = False,
    n_steps: int = 50,
    n_samples: int = 25,
    seed: int = 0,
    progress: bool = True,
) -> np.ndarray:
    """Reverse-mode attribution of every output node to every input node.

    Parameters
    ----------
    module
        ``torch.nn.Module`` mapping ``(batch, n_in)`` to ``(batch, n_out)``; e.g.
        ``model.cell_decoder`` (z → x̂, ``n_in = K``, ``n_out = F``) or
        ``model.cell_encoder_mean`` (x → z, ``n_in = F``, ``n_out = K``). It is
        evaluated in eval mode; its training flag is restored afterwards.
    inputs
        Array-like ``(n_cells, n_in)``: the points at which to attribute.
    method
        One of :data:`REVERSE_METHODS`: ``"saliency"`` (gradient, signed unless
        ``abs_saliency``), ``"grad_x_input"`` (gradient × input),
        ``"deeplift"`` (rescale rule, baseline 0), ``"integrated_gradients"``
        (baseline 0, ``n_steps`` Gauss-Legendre steps), ``"shapley"`` (Shapley
        value sampling, baseline 0, ``n_samples`` permutations). Baseline 0 is
        the mean of centred, scaled inputs (paper).
    targets
        Output indices to attribute (default: all ``n_out``), one captum call each.
    batch_size
        Cells per captum call (also the internal batch of integrated gradients).
    device
        Torch device.
    abs_saliency
        Return ``|gradient|`` for ``"saliency"`` (DeepExplain's definition).
    n_steps
        Integration steps of integrated gradients.
    n_samples
        Permutations sampled by Shapley value sampling.
    seed
        Seed for Shapley value sampling's permutations (the global torch RNG is
        left untouched).
    progress
        Show a tqdm bar over output nodes.

    Returns
    -------
    np.ndarray
        ``(len(targets), n_cells, n_in)``: entry ``[o, c, i]`` is the attribution
        of input ``i`` to output ``targets[o]`` in cell ``c``.

    Notes
    -----
    DeepLIFT's rescale rule is applied by captum to non-linearities that are
    ``torch.nn`` modules (e.g. ``nn.ReLU``); functional activations fall back
    to the gradient.
    """
    if method not in REVERSE_METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose from {REVERSE_METHODS}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x, n_out = prepare_inputs(module, inputs, device)
    targets = check_targets(targets, n_out)
    explainer = _explainer(method, module)
    n_cells = x.shape[0]
    result = np.empty((len(targets), n_cells, x.shape[1]), dtype=numpy_dtype(x))

    def run(batch: torch.Tensor, target: int) -> torch.Tensor:
        if method == "saliency":
            return explainer.attribute(batch, target=target, abs=abs_saliency)
        if method == "grad_x_input":
            return explainer.attribute(batch, target=target)
        if method == "deeplift":
            return explainer.attribute(batch, baselines=0.0, target=target)
        if method == "integrated_gradients":
            return explainer.attribute(
                batch,
                baselines=0.0,
                target=target,
                n_steps=n_steps,
                internal_batch_size=batch_size,
            )
        # Evaluate several feature perturbations per forward pass, within ~16M input values.
        per_eval = int(np.clip(2**24 // (batch.shape[0] * batch.shape[1]), 1, batch.shape[1]))
        return explainer.attribute(
            batch,
            baselines=0.0,
            target=target,
            n_samples=n_samples,
            perturbations_per_eval=per_eval,
        )

    # Fork the RNG so that seeding Shapley sampling leaves the caller's stream alone.
    rng_devices = [x.device.index or 0] if x.device.type == "cuda" else []
    with eval_mode(module), torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        for o, target in enumerate(tqdm(targets, desc=method, disable=not progress)):
            for start in range(0, n_cells, batch_size):
                batch = x[start : start + batch_size].clone().requires_grad_(True)
                attr = run(batch, target)
                result[o, start : start + batch.shape[0]] = attr.detach().cpu().numpy()
    logger.debug("%s: attributed %d outputs over %d cells", method, len(targets), n_cells)
    return result
