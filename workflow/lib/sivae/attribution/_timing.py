"""Execution-time experiment (Fig. 3b-d): attribution methods versus model training.

The paper timed the slow attribution methods on a subset of cells (100,000 of
1.3 million) and extrapolated linearly to the full data set, since every method
costs the same per cell. :func:`time_attribution` does the same with a time
budget: after an untimed one-cell warm-up, a pilot run on a few cells estimates
the cost per cell; a method whose estimate for ``n_cells_total`` fits
``max_seconds`` runs on all cells, any other runs on as many cells as the budget
allows and is extrapolated, flagged
``extrapolated=True``. Training is timed with :func:`time_training` around any
callable, so siVAE and VAE training stay the model's business.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from ._captum import REVERSE_METHODS, attribute, prepare_inputs
from ._jacobian import FORWARD_METHODS, forward_attribute, jacobian

logger = logging.getLogger(__name__)

__all__ = ["TIMING_COLUMNS", "time_attribution", "time_training", "add_training_time"]

#: Columns of every timing table.
TIMING_COLUMNS = [
    "method",
    "mode",
    "K",
    "F",
    "n_cells",
    "seconds",
    "extrapolated",
    "n_cells_timed",
    "seconds_timed",
    "device",
]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _runner(module, method: str, mode: str, batch_size: int, options: dict) -> Callable:
    """A function of the input cells that runs one (method, mode) to completion."""
    if mode == "forward" and method == "jacobian":
        return lambda x: jacobian(module, x, chunk_size=batch_size, device=x.device)
    if mode == "forward":
        return lambda x: forward_attribute(
            module, x, method, chunk_size=batch_size, device=x.device
        )
    return lambda x: attribute(
        module, x, method, batch_size=batch_size, device=x.device, progress=False, **options
    )


def _timed(run: Callable, x: torch.Tensor, clock: Callable[[], float]) -> float:
    _synchronize(x.device)
    start = clock()
    run(x)
    _synchronize(x.device)
    return clock() - start


def time_attribution(
    module: torch.nn.Module,
    inputs,
    methods: Sequence[str] = ("saliency", "grad_x_input", "deeplift"),
    n_cells_total: int | None = None,
    max_seconds: float = 60.0,
    device: str | torch.device = "cpu",
    *,
    modes: Sequence[str] = ("reverse", "forward"),
    include_jacobian: bool = True,
    side: str = "decoder",
    n_pilot: int = 8,
    batch_size: int = 1024,
    clock: Callable[[], float] = time.perf_counter,
    **options,
) -> pd.DataFrame:
    """Time attribution methods, extrapolating linearly in cells where too slow.

    Parameters
    ----------
    module
        ``(batch, n_in) → (batch, n_out)`` network, usually a trained VAE's decoder.
    inputs
        ``(n_cells, n_in)`` cells to attribute (timed on a prefix of them).
    methods
        Names from :data:`REVERSE_METHODS`. Each runs in every mode of ``modes``
        it supports (forward mode: ``"saliency"``, ``"grad_x_input"``).
    n_cells_total
        Number of cells to report the time for (default ``len(inputs)``); may exceed
        ``len(inputs)``, in which case the row is always extrapolated.
    max_seconds
        Time budget per (method, mode): more expensive runs are timed on a subset.
    device
        Torch device; CUDA is synchronised around every timing.
    modes
        Subset of ``("reverse", "forward")``.
    include_jacobian
        Add a row for the full forward-mode Jacobian (``method="jacobian"``).
    side
        ``"decoder"`` (``K = n_in``, ``F = n_out``) or ``"encoder"`` (the reverse).
    n_pilot
        Cells in the pilot run that estimates the cost per cell (it also warms up).
    batch_size
        Cells per captum call / per vectorised Jacobian chunk.
    clock
        Wall-clock function (injectable for tests).
    **options
        Passed to :func:`attribute` (e.g. ``n_steps``, ``n_samples``).

    Returns
    -------
    pd.DataFrame
        :data:`TIMING_COLUMNS`: ``seconds`` is for ``n_cells`` cells, measured when
        ``extrapolated`` is False, else ``seconds_timed / n_cells_timed * n_cells``.
    """
    unknown = [m for m in methods if m not in REVERSE_METHODS]
    if unknown:
        raise ValueError(f"unknown attribution method(s) {unknown}; choose from {REVERSE_METHODS}")
    bad_modes = [m for m in modes if m not in ("reverse", "forward")]
    if bad_modes:
        raise ValueError(f"unknown mode(s) {bad_modes}; choose from ('reverse', 'forward')")
    if side not in ("decoder", "encoder"):
        raise ValueError(f"side must be 'decoder' or 'encoder', got {side!r}")
    if max_seconds <= 0 or n_pilot < 1:
        raise ValueError(f"max_seconds and n_pilot must be positive, got {max_seconds}, {n_pilot}")
    device = torch.device(device)
    x, n_out = prepare_inputs(module, inputs, device)
    n_available = x.shape[0]
    n_total = n_available if n_cells_total is None else int(n_cells_total)
    if n_total < 1:
        raise ValueError(f"n_cells_total must be >= 1, got {n_cells_total}")
    k, f = (x.shape[1], n_out) if side == "decoder" else (n_out, x.shape[1])

    jobs = [
        (m, mode) for mode in modes for m in methods if mode == "reverse" or m in FORWARD_METHODS
    ]
    skipped = [m for m in methods if "forward" in modes and m not in FORWARD_METHODS]
    if skipped:
        logger.info("time_attribution: no forward mode for %s; timed in reverse mode only", skipped)
    if include_jacobian:
        jobs.append(("jacobian", "forward"))

    rows = []
    for method, mode in jobs:
        run = _runner(module, method, mode, batch_size, options)
        n_pilot_cells = min(n_pilot, n_available, n_total)
        # Untimed warm-up: the first torch.func / captum call in a process pays
        # one-off lazy imports and kernel setup (seconds) that are not per-cell cost.
        run(x[:1])
        pilot = _timed(run, x[:n_pilot_cells], clock)
        per_cell = max(pilot, 1e-9) / n_pilot_cells
        fits = per_cell * n_total <= max_seconds
        if fits and n_total <= n_available:
            n_timed = n_total
        else:
            n_timed = int(np.clip(max_seconds / per_cell, n_pilot_cells, min(n_available, n_total)))
        seconds_timed = _timed(run, x[:n_timed], clock)
        extrapolated = n_timed < n_total
        seconds = seconds_timed / n_timed * n_total if extrapolated else seconds_timed
        logger.info(
            "time_attribution: %s (%s) %.3g s on %d cells%s",
            method,
            mode,
            seconds_timed,
            n_timed,
            f", extrapolated to {seconds:.3g} s for {n_total}" if extrapolated else "",
        )
        rows.append(
            {
                "method": method,
                "mode": mode,
                "K": k,
                "F": f,
                "n_cells": n_total,
                "seconds": seconds,
                "extrapolated": extrapolated,
                "n_cells_timed": n_timed,
                "seconds_timed": seconds_timed,
                "device": str(device),
            }
        )
    return pd.DataFrame(rows, columns=TIMING_COLUMNS)


def time_training(
    fit_fn: Callable[[], object],
    method: str,
    K: int,
    F: int,
    n_cells: int,
    device: str = "cpu",
    clock: Callable[[], float] = time.perf_counter,
) -> pd.DataFrame:
    """Time one call of ``fit_fn`` (e.g. ``lambda: model.train(...)``).

    Parameters
    ----------
    fit_fn
        Zero-argument callable that trains a model to completion.
    method
        Label of the row, e.g. ``"siVAE"`` or ``"VAE"``.
    K, F, n_cells
        Latent dimensions, features and training cells, recorded in the row.
    device
        Device the training ran on (recorded; CUDA is synchronised after the call).
    clock
        Wall-clock function.

    Returns
    -------
    pd.DataFrame
        One row with :data:`TIMING_COLUMNS`, ``mode="training"``, never extrapolated.
    """
    if not callable(fit_fn):
        raise ValueError(f"fit_fn must be a zero-argument callable, got {type(fit_fn).__name__}")
    dev = torch.device(device)
    _synchronize(dev)
    start = clock()
    fit_fn()
    _synchronize(dev)
    seconds = clock() - start
    row = {
        "method": method,
        "mode": "training",
        "K": int(K),
        "F": int(F),
        "n_cells": int(n_cells),
        "seconds": seconds,
        "extrapolated": False,
        "n_cells_timed": int(n_cells),
        "seconds_timed": seconds,
        "device": str(dev),
    }
    return pd.DataFrame([row], columns=TIMING_COLUMNS)


def add_training_time(attribution: pd.DataFrame, training: pd.DataFrame) -> pd.DataFrame:
    """Total time of "train the model, then attribute" per row (Fig. 3b-d bars).

    Parameters
    ----------
    attribution
        Output of :func:`time_attribution` (possibly several concatenated).
    training
        Output of :func:`time_training` for the model the attributions were run on;
        matched on ``K`` and ``F``.

    Returns
    -------
    pd.DataFrame
        ``attribution`` with ``training_seconds`` and ``total_seconds`` added.
    """
    train = training[["K", "F", "seconds"]].rename(columns={"seconds": "training_seconds"})
    if train.duplicated(["K", "F"]).any():
        raise ValueError("training timings hold several rows for the same (K, F); pass one model")
    merged = attribution.merge(train, on=["K", "F"], how="left", validate="many_to_one")
    missing = merged["training_seconds"].isna()
    if missing.any():
        pairs = sorted(set(zip(merged.loc[missing, "K"], merged.loc[missing, "F"], strict=True)))
        raise ValueError(f"no training time for (K, F) = {pairs}")
    merged["total_seconds"] = merged["seconds"] + merged["training_seconds"]
    return merged
