"""Train many siVAE models of identical architecture at once (one per bin of cells).

The cohort analysis trains one siVAE per bin (1000 cells, ~3000 genes, K=32 in
the paper): hundreds of small models that leave a GPU idle one at a time.
:func:`train_bins` stacks the B models' parameters along a leading model
dimension (``torch.func.stack_module_state``) and evaluates all B losses in one
call with ``torch.func.vmap(functional_call)``; one Adam step then updates every
model.

Why the result equals training each bin alone with the same seed (up to float
rounding):

* the summed loss ``Σ_b L_b`` has per-model gradients ``∂L_b/∂θ_b`` (no cross terms);
* Adam is element-wise, so one Adam over stacked tensors is B independent Adams;
  all models take the same number of steps, so the lr decay and the KL warm-up
  (functions of the step) are the same per model anyway;
* the L2 penalty is computed inside each model's loss; stage-2 gradient clipping
  uses each model's own gradient norm;
* each model keeps its own RNG streams, seeded as :class:`~sivae.model.Trainer`
  does: a numpy ``Generator`` for minibatch order and a ``torch.Generator`` for the
  reparameterisation noise, drawn in the eager order and passed in
  (:class:`~sivae.model._module.PresampledNoise`).

Supported: every :class:`~sivae.SIVAE` architecture option (``gamma``, ``hidden``,
``y_dim``, ``linear``, ``likelihood``, ``variance``, ``feature_input``,
``n_feature_input``, ``l2``) and the schedule options of ``SIVAE.train``
(epochs per stage, batch sizes, ``lr``, ``kl_warmup_steps``, ``precision``,
``compile``). Not supported, with a ``ValueError``: covariates (``batch_key`` or
continuous keys in ``setup_anndata``: their width could differ per bin), bins
with different numbers of cells or genes (the minibatch schedules must line up),
early stopping, checkpoints and resume.
"""

import copy
import logging
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from ._base import SETUP_KEY, _matrix
from ._compile import draw_noise, noise_dtype, noise_shapes, resolve_backend
from ._data import device_copy
from ._likelihoods import inverse_positive
from ._module import PresampledNoise, SIVAEModule
from ._sivae import SIVAE
from ._training import (
    HISTORY_COLUMNS,
    LOSS_TERMS,
    TrainConfig,
    Trainer,
    load_cells,
    make_adam,
    precision_context,
    resolve_device,
)

logger = logging.getLogger(__name__)

MODEL_OPTIONS = (
    "gamma",
    "hidden",
    "y_dim",
    "linear",
    "likelihood",
    "variance",
    "feature_input",
    "n_feature_input",
    "l2",
)
TRAIN_OPTIONS = (
    "max_epochs",
    "batch_size",
    "feature_epochs",
    "joint_epochs",
    "lr",
    "feature_batch_size",
    "kl_warmup_steps",
    "progress_bar",
    "precision",
)
UNSUPPORTED_OPTIONS = (
    "early_stopping",
    "validation_fraction",
    "patience",
    "checkpoint_dir",
    "checkpoint_every",
    "resume",
)


@dataclass
class BinResult:
    """What :func:`train_bins` returns for one bin.

    Attributes
    ----------
    loadings
        ``(n_genes, n_latent)`` posterior-mean feature embeddings (``get_loadings``).
    degree_centrality
        ``(n_genes,)`` minus the per-gene reconstruction error.
    latent
        ``(n_cells, n_latent)`` posterior-mean cell embeddings.
    history
        One row per epoch and stage, the columns of ``SIVAE.history``; ``time_s``
        is the wall time of the batched epoch (all bins together).
    model
        The trained :class:`~sivae.SIVAE` (only with ``keep_models=True``).
    """

    loadings: pd.DataFrame
    degree_centrality: pd.Series
    latent: np.ndarray
    history: pd.DataFrame
    model: SIVAE | None = None


class _StageLoss(nn.Module):
    """``forward`` dispatching to the module's stage losses, for ``functional_call``."""

    def __init__(self, module: SIVAEModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, stage: int, *args):
        if stage == 2:
            idx, target, beta, eps = args
            return self.module.feature_loss(idx, target, beta, generator=PresampledNoise(eps))
        x_in, x_obs, library, beta, eps = args
        s = x_in.new_zeros((x_in.shape[0], 0))
        return self.module.cell_loss(
            x_in, x_obs, s, library, beta, joint=stage == 3, generator=PresampledNoise(eps)
        )


class _Summaries(nn.Module):
    """``forward`` for the trained models' outputs, for ``functional_call``.

    ``"features"``: posterior-mean loadings and output kernel; ``"cells"``: posterior
    means of a cell minibatch and its summed squared reconstruction error per gene,
    as :meth:`~sivae.SIVAE.get_latent_representation` and
    :meth:`~sivae.SIVAE.get_reconstruction_error` compute them.
    """

    def __init__(self, module: SIVAEModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, kind: str, *args):
        if kind == "features":
            # posterior_gene_weight() would run the feature encoder a second time
            qv_m, _ = self.module.encode_features()
            return qv_m, self.module.feature_decoder(qv_m)
        return self.module.reconstruction_error_sums(*args)


class BatchedTrainer:
    """The three-stage schedule of :class:`~sivae.model._training.Trainer` for B stacked models.

    Parameters
    ----------
    modules
        B modules of identical architecture (each already holding its feature input).
    cells, transforms
        Per model: row access to its observations and its input standardisation.
    config
        The shared schedule (its ``seed`` is ignored: see ``seeds``).
    seeds
        Per-model seeds of the minibatch order and the sampling noise.
    device
        Where to train.
    """

    def __init__(
        self,
        modules: Sequence[SIVAEModule],
        cells: Sequence,
        transforms: Sequence,
        config: TrainConfig,
        seeds: Sequence[int],
        device: torch.device,
    ) -> None:
        if config.early_stopping or config.checkpoint_dir or config.resume:
            raise ValueError("train_bins: early stopping, checkpoints and resume are not supported")
        self.modules, self.cells, self.transforms = list(modules), list(cells), list(transforms)
        self.config, self.device, self.n_models = config, device, len(self.modules)
        self.n_cells = self.cells[0].n_cells
        first = self.modules[0]
        self.n_genes, self.counts = first.n_genes, first.likelihood == "nb"
        # structure only: functional_call swaps in the stacked tensors
        self.loss_module = _StageLoss(copy.deepcopy(first)).to(device)
        params, buffers = stack_module_state(self.modules)
        self.params = {f"module.{k}": v.detach().to(device) for k, v in params.items()}
        self.buffers = {f"module.{k}": v.detach().to(device) for k, v in buffers.items()}
        names = {id(p): f"module.{k}" for k, p in first.named_parameters()}
        self.stage_names = {s: [names[id(p)] for p in first.stage_parameters(s)] for s in (1, 2, 3)}
        self.shuffle_rngs = [np.random.default_rng(s) for s in seeds]
        self.noise = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self.covariates = torch.zeros((self.n_cells, 0), device=device)
        self.on_device = [device_copy(c, device, config.cells_on_device) for c in self.cells]
        self.autocast, use_bf16 = precision_context(config.precision, device)
        self.noise_dtype = noise_dtype(use_bf16)
        self.loss_fns = {s: self._batched_loss(s) for s in (1, 2, 3)}
        self.history: list[list[dict]] = [[] for _ in self.modules]
        self.stage = self.step = 0
        self.optimizer = self.scheduler = None

    def _batched_loss(self, stage: int):
        """``vmap`` of one model's stage loss over the leading model dimension."""

        def one_model(params, buffers, beta, *data):
            return functional_call(
                self.loss_module, (params, buffers), (stage, *data[:-1], beta, data[-1])
            )

        if stage == 2:
            in_dims = (0, 0, None, 0, 0, 0)  # idx, target, eps
        else:
            in_dims = (0, 0, None, 0, 0, 0 if self.counts else None, 0)  # x_in, x_obs, lib, eps
        fn = vmap(one_model, in_dims=in_dims)
        backend = resolve_backend(self.config.compile, self.device)
        if backend is not None:
            fn = torch.compile(fn, backend=backend, dynamic=False)
        return fn

    @property
    def module(self) -> SIVAEModule:
        """The first model (all share its architecture)."""
        return self.modules[0]

    # the history marks terms a stage does not compute as NaN, as Trainer does
    _inapplicable_terms = Trainer._inapplicable_terms

    # ------------------------------------------------------------------ schedule
    def n_steps(self, stage: int) -> int:
        if stage == 2:
            per_epoch = math.ceil(self.n_genes / self.config.feature_batch_size)
        else:
            per_epoch = math.ceil(self.n_cells / self.config.batch_size)
        return per_epoch * self.config.stage_epochs[stage - 1]

    def beta(self) -> float:
        warmup = self.config.kl_warmup_steps
        if warmup is None:
            warmup = min(1000, self.n_steps(self.stage) // 2)
        return 1.0 if warmup <= 0 else min(1.0, (self.step + 1) / warmup)

    def _start_stage(self, stage: int) -> None:
        cfg = self.config
        self.stage, self.step = stage, 0
        if stage == 2:
            # per model, as Trainer._start_stage: the noise starts at its targets' spread
            weight, noise = self.params["module.gene_weight"], self.params["module.feature_noise"]
            with torch.no_grad():
                for b in range(self.n_models):
                    noise[b] = inverse_positive(float(weight[b].std()))
        trained = set(self.stage_names[stage])
        for name, p in self.params.items():
            p.requires_grad_(name in trained)
            p.grad = None
        self.optimizer = make_adam(
            [self.params[n] for n in self.stage_names[stage]], cfg.lr, self.device
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: cfg.lr_decay ** (s / cfg.lr_decay_steps)
        )

    def _clip_per_model(self, max_norm: float) -> None:
        """``clip_grad_norm_`` applied to each model's own gradients."""
        grads = [p.grad for g in self.optimizer.param_groups for p in g["params"]]
        grads = [g for g in grads if g is not None]
        sq = torch.stack([g.reshape(self.n_models, -1).float().pow(2).sum(1) for g in grads])
        coef = (max_norm / (sq.sum(0).sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.reshape(-1, *([1] * (g.ndim - 1))).to(g.dtype))

    def _noise(self, n_items: int) -> tuple[torch.Tensor, ...]:
        """Each model's noise for one step, stacked: a tuple of ``(B, *shape)`` tensors."""
        shapes = noise_shapes(self.modules[0], self.stage, n_items)
        per_model = [draw_noise(g, shapes, self.device, self.noise_dtype) for g in self.noise]
        return tuple(torch.stack(parts) for parts in zip(*per_model, strict=True))

    def _losses(self, idxs: list[np.ndarray], beta: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.stage == 2:
            gene_idx = torch.as_tensor(np.stack(idxs), device=self.device)
            rows = torch.arange(self.n_models, device=self.device)[:, None]
            target = self.params["module.gene_weight"].detach()[rows, gene_idx]
            eps = self._noise(gene_idx.shape[1])
            return self.loss_fns[2](self.params, self.buffers, beta, gene_idx, target, eps)
        batches = [
            load_cells(c, t, self.covariates, idx, self.counts, d)
            for c, t, idx, d in zip(self.cells, self.transforms, idxs, self.on_device, strict=True)
        ]
        x_in = torch.stack([b[0] for b in batches])
        x_obs = torch.stack([b[1] for b in batches]) if self.counts else x_in
        library = torch.stack([b[3] for b in batches]) if self.counts else None
        eps = self._noise(x_in.shape[1])
        fn = self.loss_fns[self.stage]
        return fn(self.params, self.buffers, beta, x_in, x_obs, library, eps)

    def _run_epoch(self) -> list[dict]:
        cfg = self.config
        if self.stage == 2:
            orders = [rng.permutation(self.n_genes) for rng in self.shuffle_rngs]
            size = cfg.feature_batch_size
        else:
            orders = [rng.permutation(np.arange(self.n_cells)) for rng in self.shuffle_rngs]
            size = cfg.batch_size
        n_items = orders[0].size
        sums = torch.zeros((self.n_models, len(LOSS_TERMS)), device=self.device)
        beta = self.beta()
        for start in range(0, n_items, size):
            idxs = [order[start : start + size] for order in orders]
            beta = self.beta()
            with self.autocast:
                losses = self._losses(idxs, torch.tensor(beta, device=self.device))
            self.optimizer.zero_grad(set_to_none=True)
            losses["total"].sum().backward()
            clip = cfg.grad_clip[self.stage - 1]
            if clip is not None:
                self._clip_per_model(clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            terms = torch.stack([losses[k].detach().float() for k in LOSS_TERMS], dim=1)
            sums += terms * idxs[0].size
        means = (sums / n_items).cpu().numpy()
        means[:, [LOSS_TERMS.index(k) for k in self._inapplicable_terms()]] = np.nan
        lr = self.scheduler.get_last_lr()[0]
        return [
            {**dict(zip(LOSS_TERMS, map(float, row), strict=True)), "beta": beta, "lr": lr}
            for row in means
        ]

    def run(self) -> list[pd.DataFrame]:
        """Train all configured stages; write the weights back; return per-model histories."""
        cfg = self.config
        for stage in cfg.stages:
            self._start_stage(stage)
            n_epochs = cfg.stage_epochs[stage - 1]
            bar = tqdm(
                total=n_epochs,
                desc=f"{self.n_models} bins, stage {stage}/{len(cfg.stages)}",
                disable=not cfg.progress_bar,
                leave=False,
            )
            for epoch in range(n_epochs):
                tic = time.perf_counter()
                rows = self._run_epoch()
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                elapsed = time.perf_counter() - tic
                for history, row in zip(self.history, rows, strict=True):
                    row.update(
                        stage=stage,
                        epoch=epoch,
                        step=self.step,
                        validation_total=np.nan,
                        time_s=elapsed,
                    )
                    history.append(row)
                bar.update(1)
            bar.close()
        self.optimizer = self.scheduler = None
        self._write_back()
        return [pd.DataFrame(h, columns=list(HISTORY_COLUMNS)) for h in self.history]

    @torch.no_grad()
    def outputs(self, batch_size: int = 1024) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per model: loadings ``(F, K)``, reconstruction error ``(F,)`` and latent ``(n, K)``.

        Computed from the stacked weights with one ``vmap`` per minibatch of cells
        instead of one model at a time (where the launches and copies of B small
        models cost more than the arithmetic); equal to the ``SIVAE.get_*`` results of
        each model up to float summation order.
        """
        summaries = _Summaries(self.loss_module.module).eval()

        def one_model(params, buffers, *args):
            return functional_call(summaries, (params, buffers), args)

        features = vmap(lambda p, b: one_model(p, b, "features"))
        loadings, weight = features(self.params, self.buffers)
        stats = [t.tensors(self.device) for t in self.transforms]
        shift = torch.stack([st[0] for st in stats])
        inv_std = torch.stack([st[1] for st in stats])
        in_dims = (0, 0, 0, None, 0 if self.counts else None, 0, 0, 0)
        cells = vmap(lambda p, b, *a: one_model(p, b, "cells", *a), in_dims=in_dims)
        error = torch.zeros((self.n_models, self.n_genes), dtype=torch.float64, device=self.device)
        latent = []
        for start in range(0, self.n_cells, batch_size):
            idx = np.arange(start, min(start + batch_size, self.n_cells))
            batches = [
                load_cells(c, t, self.covariates, idx, self.counts, d)
                for c, t, d in zip(self.cells, self.transforms, self.on_device, strict=True)
            ]
            x_in = torch.stack([b[0] for b in batches])
            library = torch.stack([b[3] for b in batches]) if self.counts else None
            s = batches[0][2]
            z, sq = cells(self.params, self.buffers, x_in, s, library, weight, shift, inv_std)
            error += sq
            latent.append(z.float().cpu())
        error = (error / self.n_cells).cpu().numpy()
        loadings = loadings.float().cpu().numpy()
        latent = torch.cat(latent, dim=1).numpy()
        return [(loadings[b], error[b], latent[b]) for b in range(self.n_models)]

    @torch.no_grad()
    def _write_back(self) -> None:
        for b, module in enumerate(self.modules):
            for name, p in module.named_parameters():
                p.copy_(self.params[f"module.{name}"][b].to(p.device))
            module.eval()


# --------------------------------------------------------------------- user API
def _as_adata(item, i: int) -> ad.AnnData:
    if isinstance(item, ad.AnnData):
        setup = item.uns.get(SETUP_KEY, {})
        if setup.get("batch_key") is not None or setup.get("continuous_covariate_keys"):
            raise ValueError(
                f"train_bins: bin {i} was set up with covariates (batch_key="
                f"{setup.get('batch_key')!r}, continuous keys "
                f"{setup.get('continuous_covariate_keys')}); batched training supports none"
            )
        return item
    if isinstance(item, np.ndarray) or sp.issparse(item):
        if item.ndim != 2:
            raise ValueError(f"train_bins: bin {i} must be a 2-D cells × genes matrix")
        # gene names "0", "1", ... as ad.AnnData(x) gives
        return ad.AnnData(item if sp.issparse(item) else np.asarray(item, dtype=np.float32))
    raise ValueError(
        f"train_bins: bin {i} is a {type(item).__name__}; expected AnnData, numpy or scipy sparse"
    )


def _schedule(n_cells: int, n_genes: int, options: dict, seed: int) -> TrainConfig:
    """The :class:`TrainConfig` ``SIVAE.train`` would build for these options."""
    from ._base import DEFAULT_STEPS_PER_STAGE

    batch_size = options.get("batch_size")
    batch_size = 128 if batch_size is None else int(batch_size)
    feature_batch_size = int(options.get("feature_batch_size", 128))
    if batch_size < 1 or feature_batch_size < 1:
        raise ValueError(f"batch sizes must be >= 1, got {batch_size}, {feature_batch_size}")
    e1 = options.get("max_epochs")
    e1 = max(1, math.ceil(DEFAULT_STEPS_PER_STAGE * batch_size / n_cells)) if e1 is None else e1
    e3 = e1 if options.get("joint_epochs") is None else options["joint_epochs"]
    e2 = options.get("feature_epochs")
    if e2 is None:
        steps1 = e1 * math.ceil(n_cells / batch_size)
        e2 = max(1, math.ceil(steps1 / math.ceil(n_genes / feature_batch_size)))
    if min(e1, e2, e3) < 1:
        raise ValueError(f"epochs per stage must be >= 1, got {(e1, e2, e3)}")
    return TrainConfig(
        stage_epochs=(int(e1), int(e2), int(e3)),
        batch_size=batch_size,
        feature_batch_size=feature_batch_size,
        lr=float(options.get("lr", 1e-3)),
        kl_warmup_steps=options.get("kl_warmup_steps"),
        progress_bar=bool(options.get("progress_bar", False)),
        precision=options.get("precision", "auto"),
        seed=seed,
        compile=options.get("compile", False),
    )


def train_bins(
    bins: Sequence,
    n_latent: int = 32,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
    compile: bool | str = False,
    keep_models: bool = False,
    **options,
) -> list[BinResult]:
    """Train one siVAE per bin, all bins at once; same results as one at a time.

    Parameters
    ----------
    bins
        B bins: AnnData objects (``X`` or the layer registered with
        ``SIVAE.setup_anndata``; no covariates) or cells × genes numpy / scipy sparse
        matrices. All bins need the same numbers of cells and of genes.
    n_latent
        Latent dimension ``K`` (the paper's cohort analyses: 32).
    seed
        Seed of every bin when ``seeds`` is not given (as ``sivae_gene_embedding``
        with a fixed seed, so results match per-bin training with that seed).
    seeds
        One seed per bin (weights, minibatch order, noise, feature-input subsample).
    device
        ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
    compile
        ``torch.compile`` the batched loss (see :mod:`sivae.model._compile`).
    keep_models
        Also return each trained :class:`~sivae.SIVAE` (holds its weights in memory).
    **options
        Architecture options of :class:`~sivae.SIVAE` (``gamma``, ``hidden``,
        ``y_dim``, ``linear``, ``likelihood``, ``variance``, ``feature_input``,
        ``n_feature_input``, ``l2``) and schedule options of ``SIVAE.train``
        (``max_epochs``, ``batch_size``, ``feature_epochs``, ``joint_epochs``, ``lr``,
        ``feature_batch_size``, ``kl_warmup_steps``, ``progress_bar``, ``precision``).

    Returns
    -------
    list of :class:`BinResult`, in the order of ``bins``.
    """
    if len(bins) == 0:
        raise ValueError("train_bins: no bins given")
    bad = sorted(set(options) & set(UNSUPPORTED_OPTIONS))
    if bad:
        raise ValueError(f"train_bins does not support {bad} (train those bins one at a time)")
    unknown = sorted(set(options) - set(MODEL_OPTIONS) - set(TRAIN_OPTIONS))
    if unknown:
        raise ValueError(f"train_bins: unknown options {unknown}")
    seeds = [int(seed)] * len(bins) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != len(bins):
        raise ValueError(f"train_bins: {len(seeds)} seeds for {len(bins)} bins")
    adatas = [_as_adata(item, i) for i, item in enumerate(bins)]
    shapes = {a.shape for a in adatas}
    if len(shapes) > 1:
        raise ValueError(
            f"train_bins: all bins need the same numbers of cells and genes, got {sorted(shapes)}"
        )
    model_kwargs = {k: v for k, v in options.items() if k in MODEL_OPTIONS}

    def build(adata: ad.AnnData, seed: int) -> SIVAE:
        return SIVAE(adata, n_latent=n_latent, seed=seed, **model_kwargs)

    # Set-up (gene statistics, feature input, weight init) is numpy and torch work
    # that releases the GIL; one bin at a time it took longer than the batched
    # training itself. Each model draws its weights from its own seeded generator,
    # so the threads build exactly what a sequential loop would.
    workers = max(1, min(len(adatas), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        models = list(pool.map(build, adatas, seeds))
    n_cells, n_genes = adatas[0].shape
    config = _schedule(n_cells, n_genes, {**options, "compile": compile}, seeds[0])
    torch_device = resolve_device(device)
    trainer = BatchedTrainer(
        [m.module for m in models],
        [_matrix(m.adata, m.registry["layer"]) for m in models],
        [m.transform for m in models],
        config,
        seeds,
        torch_device,
    )
    logger.info("train_bins: training %d siVAE models at once on %s", len(models), torch_device)
    histories = trainer.run()
    outputs = trainer.outputs()
    del trainer
    results = []
    for model, history, (loadings, error, latent) in zip(models, histories, outputs, strict=True):
        model.history, model.is_trained = history, True
        if keep_models:
            model.module.to(torch_device)
            model.device = torch_device
        results.append(
            BinResult(
                loadings=model._loadings_frame(torch.as_tensor(loadings)),
                degree_centrality=pd.Series(
                    -error, index=model.var_names, name="degree_centrality"
                ),
                latent=latent,
                history=history,
                model=model if keep_models else None,
            )
        )
    return results
