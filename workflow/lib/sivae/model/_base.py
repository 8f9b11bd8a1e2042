"""AnnData-facing model class shared by :class:`~sivae.SIVAE` and :class:`~sivae.VAE`."""

import logging
import math
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import torch

from ._data import (
    CellMatrix,
    InputTransform,
    encode_covariates,
    feature_input,
    fit_covariates,
    gene_statistics,
)
from ._module import CellDecoderMean, CellEncoderMean, SIVAEModule
from ._training import TrainConfig, Trainer, load_cells, resolve_device

logger = logging.getLogger(__name__)

SETUP_KEY = "_sivae_setup"
DEFAULT_STEPS_PER_STAGE = 2000  # the original code's typical schedule


def _check_adata(adata) -> None:
    if not isinstance(adata, ad.AnnData):
        raise ValueError(f"expected an AnnData object, got {type(adata).__name__}")
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(f"AnnData is empty ({adata.n_obs} cells × {adata.n_vars} genes)")


def _matrix(adata: ad.AnnData, layer: str | None):
    if layer is None:
        if adata.X is None:
            raise ValueError("adata.X is None; pass layer= to use a layer")
        return CellMatrix(adata.X, "X")
    if layer not in adata.layers:
        raise ValueError(f"layer '{layer}' not found in adata.layers {list(adata.layers)}")
    return CellMatrix(adata.layers[layer], f"layer '{layer}'")


class BaseModel:
    """Common machinery: data registration, training, outputs, save/load.

    Subclasses set ``_feature_side`` and implement :meth:`get_loadings`.
    """

    _feature_side = True

    # ------------------------------------------------------------------ setup
    @classmethod
    def setup_anndata(
        cls,
        adata: ad.AnnData,
        layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        continuous_covariate_keys: Sequence[str] | None = None,
        scale: bool | str = "auto",
    ) -> None:
        """Register which parts of ``adata`` the model uses (stored in ``adata.uns``).

        Parameters
        ----------
        layer
            Layer holding the observations (raw counts for NB models); ``None`` = ``X``.
        batch_key
            Categorical ``obs`` column, one-hot encoded into ``s_c`` (eqs. 21–23).
        labels_key
            ``obs`` column used to stratify the feature-input cell subsample.
        continuous_covariate_keys
            Numeric ``obs`` columns appended (standardised) to ``s_c``.
        scale
            Standardise genes per minibatch: ``True``, ``False`` or ``"auto"``
            (standardise unless ``X`` is dense with negative values, i.e. already scaled).
        """
        _check_adata(adata)
        _matrix(adata, layer)
        keys = [batch_key, labels_key, *(continuous_covariate_keys or ())]
        for key in keys:
            if key is not None and key not in adata.obs.columns:
                raise ValueError(
                    f"obs has no column '{key}' (available: {list(adata.obs.columns)[:10]})"
                )
        if scale not in (True, False, "auto"):
            raise ValueError(f"scale must be True, False or 'auto', got {scale!r}")
        adata.uns[SETUP_KEY] = {
            "layer": layer,
            "batch_key": batch_key,
            "labels_key": labels_key,
            "continuous_covariate_keys": list(continuous_covariate_keys or ()),
            "scale": scale,
        }

    def __init__(self, adata: ad.AnnData, **params) -> None:
        _check_adata(adata)
        if SETUP_KEY not in adata.uns:
            logger.info("setup_anndata was not called: using adata.X with no covariates")
            type(self).setup_anndata(adata)
        self.adata = adata
        self.registry = dict(adata.uns[SETUP_KEY])
        self.registry["continuous_covariate_keys"] = list(
            self.registry.get("continuous_covariate_keys") or ()
        )
        self.params = self._check_params(params)
        self.var_names = adata.var_names.astype(str).tolist()
        cells = _matrix(adata, self.registry["layer"])
        log1p = self.params["likelihood"] == "nb"
        self.transform = gene_statistics(cells, log1p, self.registry["scale"])
        self.covariate_info = fit_covariates(
            adata.obs, self.registry["batch_key"], self.registry["continuous_covariate_keys"]
        )
        self.library_stats = self._library_stats(cells) if log1p else None
        n_feature_input = 0
        if self._feature_side:
            n_feature_input = self._n_feature_input(cells.n_cells, cells.shape[1])
        self.module = self._build_module(n_feature_input)
        if self._feature_side:
            labels = None
            if self.registry["labels_key"] is not None:
                labels = adata.obs[self.registry["labels_key"]].to_numpy()
            xf = feature_input(
                cells,
                self.transform,
                self.params["feature_input"],
                n_feature_input,
                labels,
                self.params["seed"],
            )
            self.module.feature_input.copy_(torch.as_tensor(xf))
        self.history = pd.DataFrame()
        self.is_trained = False
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ construction
    def _check_params(self, params: dict) -> dict:
        p = dict(params)
        if not isinstance(p["n_latent"], int | np.integer) or p["n_latent"] < 1:
            raise ValueError(f"n_latent must be an integer >= 1, got {p['n_latent']!r}")
        if p.get("gamma", 0.0) < 0:
            raise ValueError(f"gamma must be >= 0, got {p['gamma']}")
        if p["likelihood"] not in ("gaussian", "nb"):
            raise ValueError(f"likelihood must be 'gaussian' or 'nb', got {p['likelihood']!r}")
        if p["variance"] is None:
            # the original's Gaussian σ is per cell; its NB dispersion (like scVI's) per gene
            p["variance"] = "gene" if p["likelihood"] == "nb" else "cell"
        if p["variance"] not in ("cell", "gene", "cell_gene"):
            raise ValueError(
                f"variance must be 'cell', 'gene' or 'cell_gene', got {p['variance']!r}"
            )
        p["hidden"] = [int(h) for h in p["hidden"]]
        if not p["hidden"] or min(p["hidden"]) < 1:
            raise ValueError(
                f"hidden must be a non-empty list of positive sizes, got {p['hidden']}"
            )
        p["n_latent"] = int(p["n_latent"])
        return p

    def _n_feature_input(self, n_cells: int, n_genes: int) -> int:
        method, n = self.params["feature_input"], self.params["n_feature_input"]
        if method not in ("subsample", "pca", "full"):
            raise ValueError(f"feature_input must be 'subsample', 'pca' or 'full', got {method!r}")
        if method == "full":
            return n_cells
        n = min(10000, n_cells) if n is None else int(n)
        if n < 1:
            raise ValueError(f"n_feature_input must be >= 1, got {n}")
        limit = n_cells if method == "subsample" else min(n_cells, n_genes)
        if n > limit:
            logger.info("n_feature_input=%d exceeds %d for %s: using %d", n, limit, method, limit)
            n = limit
        return n

    def _build_module(self, n_feature_input: int) -> SIVAEModule:
        p = self.params
        n_cov = len(self.covariate_info["categories"]) + len(self.covariate_info["continuous_keys"])
        # a private generator: the same seed gives the same weights, in any thread
        return SIVAEModule(
            n_genes=len(self.var_names),
            n_latent=p["n_latent"],
            n_covariates=n_cov,
            n_feature_input=n_feature_input,
            hidden=p["hidden"],
            y_dim=p["y_dim"],
            feature_side=self._feature_side,
            linear=p["linear"],
            likelihood=p["likelihood"],
            variance=p["variance"],
            gamma=p.get("gamma", 0.0),
            l2=p["l2"],
            generator=torch.Generator().manual_seed(int(p["seed"])),
        )

    @staticmethod
    def _library_stats(cells: CellMatrix) -> dict:
        """Mean/std of log library size (prior of eq. 14) and the mean library size."""
        sizes = np.concatenate(
            [np.asarray(b.sum(axis=1)).ravel() for _, b in cells.chunks(keep_sparse=True)]
        )
        log_sizes = np.log(np.maximum(sizes, 1.0))
        return {
            "log_mean": float(log_sizes.mean()),
            "log_std": float(log_sizes.std()),
            "mean": float(sizes.mean()),
        }

    # ------------------------------------------------------------------ training
    def _default_epochs(self, n_items: int, batch_size: int) -> int:
        return max(1, math.ceil(DEFAULT_STEPS_PER_STAGE * batch_size / n_items))

    def train(
        self,
        max_epochs: int | None = None,
        batch_size: int | None = None,
        device: str = "auto",
        feature_epochs: int | None = None,
        joint_epochs: int | None = None,
        lr: float = 1e-3,
        feature_batch_size: int = 128,
        kl_warmup_steps: int | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        progress_bar: bool = True,
        precision: str = "auto",
        compile: bool | str = False,
        cells_on_device: bool | str = "auto",
    ) -> "BaseModel":
        """Run the three-stage schedule (stage 1 only for a VAE).

        Parameters
        ----------
        max_epochs
            Epochs of stage 1 (cell VAE); also the default for ``joint_epochs``.
            Default: about 2000 steps, ``ceil(2000 · batch_size / n_cells)``.
        batch_size
            Cells per minibatch (default 128; use e.g. 4096 on a GPU).
        device
            ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``.
        feature_epochs
            Stage-2 epochs over genes (default: as many steps as stage 1).
        joint_epochs
            Stage-3 epochs (default ``max_epochs``).
        lr
            Adam learning rate, decayed ×0.9 every 1000 steps.
        feature_batch_size
            Genes per stage-2 minibatch.
        kl_warmup_steps
            Steps over which β (the KL weight) rises linearly to 1, in every stage;
            default ``min(1000, steps of the stage // 2)``.
        early_stopping
            Hold out ``validation_fraction`` of cells and stop a cell stage once its
            validation loss has not improved for ``patience`` epochs (best weights restored).
        checkpoint_dir, checkpoint_every, resume
            Write ``last.pt`` every ``checkpoint_every`` epochs and at each stage end;
            ``resume=True`` continues from it.
        precision
            ``"auto"`` (bf16 autocast on CUDA, fp32 on CPU), ``"bf16"`` or ``"fp32"``.
        compile
            ``torch.compile`` the loss (forward and backward): ``True`` picks the
            ``"inductor"`` backend on CUDA and ``"aot_eager"`` on CPU; a string names
            the backend. Same results as eager up to float rounding (see ``_compile``).
        cells_on_device
            Hold the whole matrix on the training device (CSR stays CSR) so that
            minibatches are gathered there instead of read and copied from the
            host each step. ``"auto"``: on CUDA when it fits in half the free GPU
            memory, never on the CPU. Same results either way.

        Returns
        -------
        self, with ``history`` (a DataFrame, one row per epoch and stage) filled in.
        """
        batch_size = 128 if batch_size is None else int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n_train = self.adata.n_obs
        if early_stopping:
            n_train = max(1, n_train - int(round(validation_fraction * n_train)))
        e1 = self._default_epochs(n_train, batch_size) if max_epochs is None else int(max_epochs)
        e3 = e1 if joint_epochs is None else int(joint_epochs)
        if feature_epochs is None:
            steps1 = e1 * math.ceil(n_train / batch_size)
            e2 = max(1, math.ceil(steps1 / math.ceil(len(self.var_names) / feature_batch_size)))
        else:
            e2 = int(feature_epochs)
        if min(e1, e2, e3) < 1:
            raise ValueError(f"epochs per stage must be >= 1, got {(e1, e2, e3)}")
        config = TrainConfig(
            stage_epochs=(e1, e2, e3),
            batch_size=batch_size,
            feature_batch_size=feature_batch_size,
            lr=lr,
            kl_warmup_steps=kl_warmup_steps,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
            checkpoint_every=checkpoint_every,
            resume=resume,
            progress_bar=progress_bar,
            precision=precision,
            compile=compile,
            cells_on_device=cells_on_device,
            seed=self.params["seed"],
            stages=(1, 2, 3) if self._feature_side else (1,),
        )
        self.device = resolve_device(device)
        trainer = Trainer(
            self.module,
            _matrix(self.adata, self.registry["layer"]),
            self.transform,
            encode_covariates(self.adata.obs, self.covariate_info),
            config,
            self.device,
        )
        self._trainer = trainer
        self.history = trainer.run()
        self.is_trained = True
        return self

    # ------------------------------------------------------------------ outputs
    def _resolve_adata(self, adata: ad.AnnData | None) -> ad.AnnData:
        if adata is None:
            return self.adata
        _check_adata(adata)
        names = adata.var_names.astype(str).tolist()
        if names != self.var_names:
            raise ValueError(
                f"AnnData genes do not match the model's {len(self.var_names)} genes "
                f"(got {len(names)}; first differences must be resolved by subsetting)"
            )
        return adata

    def _batches(self, adata: ad.AnnData, batch_size: int = 1024):
        cells = _matrix(adata, self.registry["layer"])
        cov = encode_covariates(adata.obs, self.covariate_info)
        cov = torch.as_tensor(cov, device=self.device)
        counts = self.module.likelihood == "nb"
        for start in range(0, cells.n_cells, batch_size):
            idx = np.arange(start, min(start + batch_size, cells.n_cells))
            yield load_cells(cells, self.transform, cov, idx, counts)

    @torch.no_grad()
    def get_latent_representation(
        self, adata: ad.AnnData | None = None, batch_size: int = 1024
    ) -> np.ndarray:
        """Posterior means of the cell embeddings ``z_c``, shape ``(n_cells, n_latent)``."""
        adata = self._resolve_adata(adata)
        self.module.eval()
        out = [
            self.module.encode_cells(x_in, s)[0].float().cpu()
            for x_in, _, s, _ in self._batches(adata, batch_size)
        ]
        return torch.cat(out).numpy()

    def get_loadings(self) -> pd.DataFrame:
        raise NotImplementedError

    def _loadings_frame(self, values: torch.Tensor) -> pd.DataFrame:
        cols = [f"dim{k}" for k in range(values.shape[1])]
        return pd.DataFrame(
            values.detach().float().cpu().numpy(), index=self.var_names, columns=cols
        )

    @torch.no_grad()
    def get_reconstruction_error(
        self, adata: ad.AnnData | None = None, batch_size: int = 1024
    ) -> pd.Series:
        """Per-gene MSE of the posterior-mean reconstruction, on the standardised scale.

        NB models compare ``log1p`` counts with ``log1p`` expected counts, both
        standardised with the training statistics.
        """
        adata = self._resolve_adata(adata)
        self.module.eval()
        weight = self.module.posterior_gene_weight()
        total = torch.zeros(len(self.var_names), dtype=torch.float64, device=self.device)
        stats = self.transform.tensors(self.device)
        for x_in, _, s, lib in self._batches(adata, batch_size):
            total += self.module.reconstruction_error_sums(x_in, s, lib, weight, *stats)[1]
        err = (total / adata.n_obs).cpu().numpy()
        return pd.Series(err, index=self.var_names, name="reconstruction_error")

    def get_degree_centrality(self, adata: ad.AnnData | None = None) -> pd.Series:
        """siVAE degree centrality: minus the per-gene reconstruction error (higher = hub)."""
        return (-self.get_reconstruction_error(adata)).rename("degree_centrality")

    def _fixed_covariate(self) -> torch.Tensor:
        info = self.covariate_info
        s = np.zeros(len(info["categories"]) + len(info["continuous_keys"]), dtype=np.float32)
        if info["categories"]:
            s[0] = 1.0  # first batch category; continuous covariates at their mean (0)
        return torch.as_tensor(s, device=self.device)

    @property
    def cell_decoder(self) -> torch.nn.Module:
        """``nn.Module`` z (batch, K) → mean x̂ (batch, F), with fixed feature side and batch."""
        self.module.eval()
        library = None if self.library_stats is None else self.library_stats["mean"]
        return CellDecoderMean(self.module, self._fixed_covariate(), library).eval()

    @property
    def cell_encoder_mean(self) -> torch.nn.Module:
        """``nn.Module`` x (batch, F) in the model's input scale → posterior mean z (batch, K)."""
        self.module.eval()
        return CellEncoderMean(self.module, self._fixed_covariate()).eval()

    @torch.no_grad()
    def sample(self, n_cells: int, seed: int = 0) -> np.ndarray:
        """Generate ``n_cells`` cells: ``z ~ N(0, I)``, decoder mean plus observation noise.

        Gaussian models return values on the standardised scale; NB models return
        counts with library sizes drawn from the log-normal prior of eq. 14.
        Covariates are those of randomly drawn training cells.
        """
        if int(n_cells) < 1:
            raise ValueError(f"n_cells must be >= 1, got {n_cells}")
        rng = np.random.default_rng(seed)
        self.module.eval()
        cov = encode_covariates(self.adata.obs, self.covariate_info)
        weight = self.module.posterior_gene_weight()
        out_rows = []
        for start in range(0, int(n_cells), 1024):
            n = min(1024, int(n_cells) - start)
            z = torch.as_tensor(rng.standard_normal((n, self.module.n_latent)), dtype=torch.float32)
            s = torch.as_tensor(cov[rng.integers(0, cov.shape[0], size=n)])
            z, s = z.to(self.device), s.to(self.device)
            y = self.module.decode_y(z, s)
            out = self.module.output_mean(y, weight, s)
            scale = (
                self.module.scale_head(y).float().expand_as(out).cpu().numpy().astype(np.float64)
            )
            out = out.cpu().numpy().astype(np.float64)
            if self.module.likelihood == "gaussian":
                out_rows.append(out + scale * rng.standard_normal(out.shape))
            else:
                stats = self.library_stats
                lib = np.exp(rng.normal(stats["log_mean"], stats["log_std"], size=(n, 1)))
                rho = np.exp(out - out.max(axis=1, keepdims=True))
                mu = lib * rho / rho.sum(axis=1, keepdims=True)
                rate = rng.gamma(shape=scale, scale=mu / scale)
                out_rows.append(rng.poisson(rate).astype(np.float64))
        return np.concatenate(out_rows).astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str, overwrite: bool = True) -> None:
        """Write ``model.safetensors`` (weights), ``config.json`` and ``history.tsv`` to ``path``."""
        from ._io import save_model

        save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str, adata: ad.AnnData, device: str = "cpu") -> "BaseModel":
        """Load a saved model onto ``adata`` (same genes, in the same order)."""
        from ._io import load_model

        return load_model(cls, path, adata, device=device)

    def __repr__(self) -> str:
        p = self.params
        return (
            f"{type(self).__name__}(n_genes={len(self.var_names)}, n_latent={p['n_latent']}, "
            f"hidden={p['hidden']}, likelihood={p['likelihood']!r}, trained={self.is_trained})"
        )


def transform_from_config(cfg: dict) -> InputTransform:
    return InputTransform(np.asarray(cfg["mean"]), np.asarray(cfg["std"]), cfg["log1p"])
