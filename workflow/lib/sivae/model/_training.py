"""Three-stage trainer with KL warm-up, lr decay, early stopping and checkpoints.

Stage 1 trains the cell VAE (the per-gene output kernel ``ṽ_g`` is a free
parameter); stage 2 trains the feature VAE to regress ``ṽ_g`` from ``X[:, g]``
(gene minibatches, gradient clipping); stage 3 trains everything jointly with a
fresh Adam. A VAE runs stage 1 only.

Reproducibility: minibatch order comes from a numpy ``Generator`` and the
reparameterisation noise from a ``torch.Generator``; both states are saved in
every checkpoint, so ``resume=True`` continues exactly where an uninterrupted
run would be.
"""

import copy
import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ._compile import CompiledLoss, draw_noise, noise_dtype, noise_shapes, resolve_backend
from ._data import CellMatrix, DeviceMatrix, InputTransform, device_copy, to_device
from ._likelihoods import inverse_positive
from ._module import SIVAEModule

logger = logging.getLogger(__name__)

LOSS_TERMS = ("total", "reconstruction", "kl_cell", "kl_feature", "interpretability", "l2")
HISTORY_COLUMNS = (
    "stage",
    "epoch",
    "step",
    *LOSS_TERMS,
    "beta",
    "lr",
    "validation_total",
    "time_s",
)
CHECKPOINT_NAME = "last.pt"


@dataclass
class TrainConfig:
    """Training schedule; epochs per stage (stage 2 counts epochs over genes).

    Defaults follow the original code: Adam lr 1e-3 decayed ×0.9 per 1000 steps,
    minibatch 128 cells (and 128 genes in stage 2), β warm-up over up to 1000
    steps per stage (capped at half the stage), gradient clipping at norm 5 in stage 2.
    """

    stage_epochs: tuple[int, int, int]
    batch_size: int = 128
    feature_batch_size: int = 128
    lr: float = 1e-3
    lr_decay: float = 0.9
    lr_decay_steps: int = 1000
    kl_warmup_steps: int | None = None
    grad_clip: tuple = (None, 5.0, None)
    early_stopping: bool = False
    validation_fraction: float = 0.1
    patience: int = 10
    checkpoint_dir: str | None = None
    checkpoint_every: int = 10
    resume: bool = False
    progress_bar: bool = True
    precision: str = "auto"
    seed: int = 0
    compile: bool | str = False
    cells_on_device: bool | str = "auto"
    stages: tuple = field(default=(1, 2, 3))


def precision_context(precision: str, device: torch.device):
    """(autocast context, whether it is bf16) for ``precision`` on ``device``.

    ``"auto"`` means bf16 autocast (and TF32 matmuls) on CUDA, fp32 elsewhere.
    """
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if use_bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16), True
    return nullcontext(), False


def make_adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam as the original; one fused kernel per parameter group on CUDA, foreach elsewhere."""
    if device.type == "cuda":
        return torch.optim.Adam(params, lr=lr, fused=True)
    return torch.optim.Adam(params, lr=lr, foreach=True)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but CUDA is not available")
    return device


def load_cells(
    cells: CellMatrix,
    transform: InputTransform,
    covariates: torch.Tensor,
    idx: np.ndarray,
    counts: bool,
    on_device: DeviceMatrix | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Minibatch ``idx`` on the covariates' device: ``(x_in, x_obs, s, library)``.

    ``x_in`` is the standardised encoder input; ``x_obs`` what the likelihood
    scores (raw counts when ``counts``, else ``x_in``); ``library`` the per-cell
    count total (counts only). Rows come from ``on_device`` when given (a copy of
    ``cells`` on the device), else from ``cells`` through the host.
    """
    device = covariates.device
    idx_t = torch.as_tensor(idx, device=device)
    raw = on_device.rows(idx_t) if on_device is not None else to_device(cells.rows(idx), device)
    x_in = transform.torch(raw)
    if not counts:
        return x_in, x_in, covariates[idx_t], None
    library = raw.sum(-1, keepdim=True)
    return x_in, raw, covariates[idx_t], library


class Trainer:
    """Runs the schedule of :class:`TrainConfig` on a :class:`SIVAEModule`.

    Parameters
    ----------
    module
        The torch module (already holding its feature input, if any).
    cells
        Row access to the observations (raw counts for NB, else expression).
    transform
        Per-gene input standardisation.
    covariates
        ``(n_cells, n_cov)`` float32 covariate matrix.
    config
        The schedule.
    device
        Where to train.
    """

    def __init__(
        self,
        module: SIVAEModule,
        cells: CellMatrix,
        transform: InputTransform,
        covariates: np.ndarray,
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        self.module, self.cells, self.transform, self.config = module, cells, transform, config
        self.device = device
        self.covariates = torch.as_tensor(covariates, dtype=torch.float32, device=device)
        self.on_device = device_copy(cells, device, config.cells_on_device)
        self.history: list[dict] = []
        self.shuffle_rng = np.random.default_rng(config.seed)
        self.noise = torch.Generator(device=device)
        self.noise.manual_seed(config.seed)
        split_rng = np.random.default_rng(config.seed + 1)
        n = cells.n_cells
        if config.early_stopping:
            n_val = int(round(config.validation_fraction * n))
            if not 1 <= n_val < n:
                raise ValueError(
                    f"validation_fraction={config.validation_fraction} leaves no "
                    f"validation or training cells out of {n}"
                )
            perm = split_rng.permutation(n)
            self.val_idx, self.train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        else:
            self.val_idx, self.train_idx = np.zeros(0, dtype=np.int64), np.arange(n)
        self.autocast, use_bf16 = precision_context(config.precision, device)
        # compile=...: the loss runs compiled, fed noise drawn from self.noise in eager order
        backend = resolve_backend(config.compile, device)
        self.compiled = None if backend is None else CompiledLoss(module, backend)
        self.noise_dtype = noise_dtype(use_bf16)
        # per-stage state (reset by _start_stage, restored by resume)
        self.stage, self.epoch, self.step = 1, 0, 0
        self.optimizer = self.scheduler = None
        self.best: dict | None = None

    # ------------------------------------------------------------------ batches
    def cell_batch(self, idx: np.ndarray):
        """Device tensors ``(x_in, x_obs, s, library)`` for cells ``idx``."""
        return load_cells(
            self.cells,
            self.transform,
            self.covariates,
            idx,
            self.module.likelihood == "nb",
            self.on_device,
        )

    def n_steps(self, stage: int) -> int:
        if stage == 2:
            per_epoch = math.ceil(self.module.n_genes / self.config.feature_batch_size)
        else:
            per_epoch = math.ceil(self.train_idx.size / self.config.batch_size)
        return per_epoch * self.config.stage_epochs[stage - 1]

    def beta(self) -> float:
        warmup = self.config.kl_warmup_steps
        if warmup is None:
            warmup = min(1000, self.n_steps(self.stage) // 2)
        return 1.0 if warmup <= 0 else min(1.0, (self.step + 1) / warmup)

    # ------------------------------------------------------------------ stages
    def _start_stage(self, stage: int) -> None:
        self.stage, self.epoch, self.step, self.best = stage, 0, 0, None
        if stage == 2:
            # Start the regression noise at the targets' spread, not softplus(0)=0.69:
            # otherwise the KL term wins and every gene collapses onto the prior.
            target_std = float(self.module.gene_weight.detach().std())
            with torch.no_grad():
                self.module.feature_noise.fill_(inverse_positive(target_std))
        self._make_optimizer()

    def _make_optimizer(self) -> None:
        """A fresh Adam over this stage's parameters with exponential lr decay."""
        cfg = self.config
        self.optimizer = make_adam(self.module.stage_parameters(self.stage), cfg.lr, self.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: cfg.lr_decay ** (s / cfg.lr_decay_steps)
        )

    def _train_step(self, losses: dict[str, torch.Tensor]) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        clip = self.config.grad_clip[self.stage - 1]
        if clip is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1

    def _run_epoch(self) -> dict[str, float]:
        module, cfg = self.module, self.config
        module.train()
        sums = torch.zeros(len(LOSS_TERMS), device=self.device)
        if self.stage == 2:
            order = self.shuffle_rng.permutation(module.n_genes)
            size = cfg.feature_batch_size
        else:
            order = self.shuffle_rng.permutation(self.train_idx)
            size = cfg.batch_size
        beta = self.beta()
        for start in range(0, order.size, size):
            idx = order[start : start + size]
            beta = self.beta()
            with self.autocast:
                if self.compiled is not None:
                    losses = self._compiled_loss(idx, beta)
                elif self.stage == 2:
                    gene_idx = torch.as_tensor(idx, device=self.device)
                    target = module.gene_weight.detach()[gene_idx]
                    losses = module.feature_loss(gene_idx, target, beta, self.noise)
                else:
                    x_in, x_obs, s, lib = self.cell_batch(idx)
                    losses = module.cell_loss(
                        x_in, x_obs, s, lib, beta, joint=self.stage == 3, generator=self.noise
                    )
            self._train_step(losses)
            # one small kernel per step, and one device sync per epoch, for the log
            sums += torch.stack([losses[k].detach() for k in LOSS_TERMS]).float() * idx.size
        out = {k: v / order.size for k, v in zip(LOSS_TERMS, sums.tolist(), strict=True)}
        for k in self._inapplicable_terms():
            out[k] = float("nan")  # not part of this stage's loss: NaN, not a fake 0
        out["beta"] = beta
        out["lr"] = self.scheduler.get_last_lr()[0]
        return out

    def _inapplicable_terms(self) -> tuple[str, ...]:
        """Loss terms this stage does not compute (logged as NaN in the history)."""
        if self.stage == 1:
            return ("kl_feature", "interpretability")
        if self.stage == 2:
            return ("kl_cell", "interpretability")
        if self.module.linear or self.module.gamma <= 0:
            return ("interpretability",)  # stage 3 fits the linear term only when γ > 0
        return ()

    def _compiled_loss(self, idx: np.ndarray, beta: float) -> dict[str, torch.Tensor]:
        """The loss of minibatch ``idx`` through :class:`CompiledLoss` (same noise as eager)."""
        shapes = noise_shapes(self.module, self.stage, idx.size)
        eps = draw_noise(self.noise, shapes, self.device, self.noise_dtype)
        beta_t = torch.tensor(beta, device=self.device)
        if self.stage == 2:
            gene_idx = torch.as_tensor(idx, device=self.device)
            target = self.module.gene_weight.detach()[gene_idx]
            return self.compiled.feature(gene_idx, target, beta_t, eps)
        x_in, x_obs, s, lib = self.cell_batch(idx)
        return self.compiled.cell(x_in, x_obs, s, lib, beta_t, eps, self.stage == 3)

    @torch.no_grad()
    def validation_loss(self) -> float:
        """Mean total loss over held-out cells at posterior means (β = 1)."""
        self.module.eval()
        total = 0.0
        for start in range(0, self.val_idx.size, 1024):
            idx = self.val_idx[start : start + 1024]
            with self.autocast:
                x_in, x_obs, s, lib = self.cell_batch(idx)
                losses = self.module.cell_loss(
                    x_in, x_obs, s, lib, 1.0, joint=self.stage == 3, sample=False
                )
            total += float(losses["total"]) * idx.size
        return total / self.val_idx.size

    def _early_stop(self, val: float) -> bool:
        """Track the best validation loss; True once ``patience`` epochs pass without gain."""
        if self.best is None or val < self.best["loss"]:
            state = copy.deepcopy(self.module.state_dict())
            self.best = {"loss": val, "bad_epochs": 0, "epoch": self.epoch, "state": state}
            return False
        self.best["bad_epochs"] += 1
        return self.best["bad_epochs"] >= self.config.patience

    def on_epoch_end(self) -> None:
        """Hook called after each epoch (and its checkpoint); tests use it to interrupt."""

    # ------------------------------------------------------------------ main loop
    def run(self) -> pd.DataFrame:
        """Train all configured stages; returns the per-epoch history."""
        cfg = self.config
        self.module.to(self.device)
        resumed = cfg.resume and self._load_checkpoint()
        for stage in cfg.stages:
            if resumed and stage < self.stage:
                continue
            if not (resumed and stage == self.stage):
                self._start_stage(stage)
            resumed = False
            n_epochs = cfg.stage_epochs[stage - 1]
            bar = tqdm(
                total=n_epochs,
                initial=self.epoch,
                desc=f"stage {stage}/{len(cfg.stages)}",
                disable=not cfg.progress_bar,
                leave=False,
            )
            stop = False
            while self.epoch < n_epochs and not stop:
                tic = time.perf_counter()
                row = {"stage": stage, "epoch": self.epoch, **self._run_epoch()}
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                row["time_s"] = time.perf_counter() - tic  # wall time of the training epoch
                row["step"] = self.step
                row["validation_total"] = np.nan
                if cfg.early_stopping and stage != 2:
                    row["validation_total"] = self.validation_loss()
                    # while the KL weight still rises the models of successive epochs
                    # optimise different objectives: judge convergence after warm-up
                    if self.beta() >= 1.0:
                        stop = self._early_stop(row["validation_total"])
                    if stop:
                        logger.info("stage %d: early stop after epoch %d", stage, self.epoch)
                self.history.append(row)
                self.epoch += 1
                bar.update(1)
                bar.set_postfix(loss=f"{row['total']:.4g}")
                last = self.epoch == n_epochs or stop
                if cfg.checkpoint_dir and not last and self.epoch % cfg.checkpoint_every == 0:
                    self._save_checkpoint()
                self.on_epoch_end()
            bar.close()
            if self.best is not None:
                logger.info("stage %d: restoring best epoch %d", stage, self.best["epoch"])
                self.module.load_state_dict(self.best["state"])
            next_stage = [s for s in cfg.stages if s > stage]
            if cfg.checkpoint_dir:
                # a stage-end checkpoint resumes at the start of the next stage
                self.stage, self.epoch, self.step, self.best = (
                    next_stage[0] if next_stage else stage + 1,
                    0,
                    0,
                    None,
                )
                self.optimizer = self.scheduler = None
                self._save_checkpoint()
        self.module.eval()
        self.on_device = None  # free the device copy of the data (the model keeps its trainer)
        return self.history_frame()

    def history_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.history, columns=list(HISTORY_COLUMNS))

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self) -> None:
        state = {
            "config": asdict(self.config),
            "module": self.module.state_dict(),
            "stage": self.stage,
            "epoch": self.epoch,
            "step": self.step,
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "best": self.best,
            "history": self.history,
            "shuffle_rng": self.shuffle_rng.bit_generator.state,
            "noise_rng": self.noise.get_state(),
        }
        os.makedirs(self.config.checkpoint_dir, exist_ok=True)
        path = os.path.join(self.config.checkpoint_dir, CHECKPOINT_NAME)
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)  # never leave a half-written checkpoint

    def _load_checkpoint(self) -> bool:
        path = os.path.join(self.config.checkpoint_dir or "", CHECKPOINT_NAME)
        if not self.config.checkpoint_dir or not os.path.exists(path):
            logger.info("resume=True but no checkpoint at %s: training from scratch", path)
            return False
        state = torch.load(path, map_location="cpu", weights_only=False)
        saved = state["config"]["stage_epochs"]
        if tuple(saved) != tuple(self.config.stage_epochs):
            raise ValueError(
                f"checkpoint {path} was written for stage_epochs={tuple(saved)}, "
                f"not {tuple(self.config.stage_epochs)}"
            )
        self.module.load_state_dict(state["module"])
        self.history = state["history"]
        self.shuffle_rng.bit_generator.state = state["shuffle_rng"]
        self.noise.set_state(state["noise_rng"])
        if state["optimizer"] is None:
            # written at a stage boundary: the next stage starts from scratch
            if state["stage"] in self.config.stages:
                self._start_stage(state["stage"])
            self.stage = state["stage"]
        else:
            self.stage = state["stage"]
            self._make_optimizer()
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.epoch, self.step, self.best = state["epoch"], state["step"], state["best"]
            if self.best is not None:
                self.best["state"] = {k: v.to(self.device) for k, v in self.best["state"].items()}
        logger.info("resumed from %s at stage %d epoch %d", path, self.stage, self.epoch)
        return True
