"""Rule `timing`: execution time of siVAE versus VAE + feature attribution (Fig. 3b-d).

For every configured number of latent dimensions K and of features F (the F most
variable genes), trains each configured model (timed), then times the attribution
methods on the VAE's decoder, extrapolating slow methods linearly in cells
(``sivae.attribution.time_attribution``, rows flagged ``extrapolated``).

Output: timing.tsv with method, mode, K, F, n_cells, seconds, extrapolated, device
(+ n_cells_timed, seconds_timed; training_seconds, total_seconds on attribution rows).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

try:
    import sivae
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae
from sivae._validation import atomic_write_tsv, log_to_file, read_h5ad_checked

# Everything the script and the library log goes to the rule's log file.
logger = log_to_file(snakemake.log[0])


def build_model(data, settings, n_latent, seed):
    """An untrained model of the configured variant (Python API)."""
    variant = settings["variant"]
    likelihood = "nb" if variant in ("siVAE_NB", "VAE_linear") else "gaussian"
    if variant.startswith("VAE"):
        sivae.VAE.setup_anndata(data, layer=settings["layer"])
        return sivae.VAE(
            data,
            n_latent=n_latent,
            linear_decoder=variant == "VAE_linear",
            likelihood=likelihood,
            hidden=tuple(settings["hidden"]),
            seed=seed,
        )
    sivae.SIVAE.setup_anndata(data, layer=settings["layer"])
    return sivae.SIVAE(
        data,
        n_latent=n_latent,
        gamma=settings["gamma"],
        hidden=tuple(settings["hidden"]),
        linear=variant == "siVAE_linear",
        likelihood=likelihood,
        seed=seed,
    )


def train_kwargs(settings, device):
    """Keyword arguments of ``model.train`` for the configured schedule."""
    epochs = settings["epochs"]
    if isinstance(epochs, int):
        epochs = {"cell": epochs, "feature": epochs, "joint": epochs}
    return {
        "max_epochs": epochs["cell"],
        "feature_epochs": epochs["feature"],
        "joint_epochs": epochs["joint"],
        "batch_size": settings["batch_size"],
        "lr": settings["learning_rate"],
        "device": device,
        "progress_bar": False,
    }


dataset = snakemake.wildcards.dataset
timing = snakemake.params.settings
seed = snakemake.params.seed
device = snakemake.params.device
if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
attr = sivae.attribution

adata = read_h5ad_checked(snakemake.input[0], dataset)
n_cells_total = timing["n_cells_total"] or adata.n_obs
feature_counts = timing["n_features"] or [adata.n_vars]
too_many = [f for f in feature_counts if f > adata.n_vars]
if too_many:
    raise ValueError(
        f"dataset {dataset!r}: analyses.timing.n_features {too_many} exceed its {adata.n_vars} genes"
    )
x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
by_variance = np.argsort(-x.var(axis=0), kind="stable")

rows = []
for n_features in feature_counts:
    subset = adata[:, np.sort(by_variance[:n_features])].copy()
    for n_latent in timing["n_latent"]:
        for name, settings in snakemake.params.models.items():
            model = build_model(subset, settings, n_latent, seed)
            trained = attr.time_training(
                lambda model=model, settings=settings: model.train(
                    **train_kwargs(settings, device)
                ),
                method=name,
                K=n_latent,
                F=n_features,
                n_cells=subset.n_obs,
                device=device,
            )
            rows.append(trained)
            logger.info("%s: trained %s K=%d F=%d", dataset, name, n_latent, n_features)
            if settings["variant"].startswith("VAE"):
                z = model.get_latent_representation()[: timing["n_cells"]]
                timed = attr.time_attribution(
                    model.cell_decoder,
                    z,
                    methods=timing["methods"],
                    n_cells_total=n_cells_total,
                    max_seconds=timing["max_seconds"],
                    device=device,
                )
                timed["method"] = name + "+" + timed["method"]
                rows.append(attr.add_training_time(timed, trained))

atomic_write_tsv(pd.concat(rows, ignore_index=True), snakemake.output[0])
