"""GRNBoost2 (Moerman et al. 2019) through arboreto's per-target regression.

arboreto's Dask front end (``arboreto.algo.grnboost2``) is broken with current
Dask, so each target gene is regressed with
``arboreto.core.infer_partial_network`` directly, in a process pool.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ._mi import _check_expression

logger = logging.getLogger(__name__)

__all__ = ["grnboost2", "GRNBOOST2_KWARGS"]

# arboreto's SGBM_KWARGS: stochastic gradient boosting with out-of-bag early stopping.
GRNBOOST2_KWARGS = {
    "learning_rate": 0.01,
    "n_estimators": 5000,
    "max_features": 0.1,
    "subsample": 0.9,
}
_EARLY_STOP_WINDOW = 25

# Set once per worker process by `_init_worker` (avoids pickling X for every target).
_WORKER_STATE: dict = {}


def _init_worker(X, gene_names, regressor_kwargs, early_stop_window, seed):
    _WORKER_STATE.update(
        X=X,
        gene_names=gene_names,
        kwargs=regressor_kwargs,
        window=early_stop_window,
        seed=seed,
    )


def _importances_for_target(target: int) -> tuple[int, np.ndarray]:
    """Importance of every gene for predicting ``target`` (0 for the target itself)."""
    from arboreto.core import infer_partial_network  # imports dask: slow, so only here

    state = _WORKER_STATE
    names = state["gene_names"]
    links = infer_partial_network(
        regressor_type="GBM",
        regressor_kwargs=state["kwargs"],
        tf_matrix=state["X"],
        tf_matrix_gene_names=names,
        target_gene_name=names[target],
        target_gene_expression=state["X"][:, target],
        include_meta=False,
        early_stop_window_length=state["window"],
        seed=state["seed"],
    )
    column = np.zeros(len(names))
    if len(links):
        index = {name: i for i, name in enumerate(names)}
        column[[index[tf] for tf in links["TF"]]] = links["importance"].to_numpy()
    return target, column


def grnboost2(
    X,
    gene_names=None,
    seed: int = 666,
    n_jobs: int | None = None,
    early_stop_window: int = _EARLY_STOP_WINDOW,
    **gbm_kwargs,
) -> np.ndarray:
    """GRNBoost2 importance matrix: every gene as a candidate regulator of every other.

    For each target gene a scikit-learn ``GradientBoostingRegressor`` predicts
    it from all other genes (arboreto's defaults, :data:`GRNBOOST2_KWARGS`:
    learning rate 0.01, up to 5000 trees, ``max_features=0.1``,
    ``subsample=0.9``, stopping when the mean out-of-bag improvement over the
    last ``early_stop_window`` trees turns negative). Importances are arboreto's:
    feature importances multiplied by the number of trees fitted.

    Parameters
    ----------
    X
        ``(n_cells, n_genes)`` expression (dense or scipy sparse).
    gene_names
        Unique names, only used for arboreto's bookkeeping and in messages.
    seed
        ``random_state`` of every regressor (arboreto's default 666).
    n_jobs
        Worker processes; ``None`` = the CPUs this process may use, ``1`` = no pool.
    early_stop_window
        Length of the out-of-bag early-stopping window (arboreto: 25).
    **gbm_kwargs
        Override :data:`GRNBOOST2_KWARGS`, e.g. ``n_estimators=100`` for quick runs.

    Returns
    -------
    ``(n_genes, n_genes)`` float64 array ``W`` with ``W[i, j]`` the importance of
    gene ``i`` for predicting gene ``j`` (not symmetric; zero diagonal).
    """
    X = _check_expression(X)
    n_genes = X.shape[1]
    names = [f"g{i}" for i in range(n_genes)] if gene_names is None else list(map(str, gene_names))
    if len(names) != n_genes:
        raise ValueError(f"grnboost2: {len(names)} gene names for {n_genes} genes")
    if len(set(names)) != n_genes:
        raise ValueError("grnboost2: gene names must be unique")
    kwargs = {**GRNBOOST2_KWARGS, **gbm_kwargs}
    if n_jobs is None:
        n_jobs = (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        )
    n_jobs = max(1, min(int(n_jobs), n_genes))
    init_args = (X, names, kwargs, early_stop_window, seed)
    # Import arboreto (and Dask) here once: forked workers inherit it instead of re-importing.
    import arboreto.core  # noqa: F401

    W = np.zeros((n_genes, n_genes))
    if n_jobs == 1:
        _init_worker(*init_args)
        results = map(_importances_for_target, range(n_genes))
        for target, column in results:
            W[:, target] = column
    else:
        with ProcessPoolExecutor(
            max_workers=n_jobs, initializer=_init_worker, initargs=init_args
        ) as pool:
            chunk = max(1, n_genes // (4 * n_jobs))
            for target, column in pool.map(
                _importances_for_target, range(n_genes), chunksize=chunk
            ):
                W[:, target] = column
    empty = np.flatnonzero(~W.any(axis=0))
    if empty.size:
        logger.warning(
            "grnboost2: %d target gene(s) got no regulator with positive importance "
            "(regression failed or target unpredictable), e.g. %s",
            empty.size,
            [names[i] for i in empty[:5]],
        )
    np.fill_diagonal(W, 0.0)
    return W
