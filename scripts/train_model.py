"""Rules `train_model` and `train_bin`: train one model through the `sivae train` CLI.

The CLI writes ``<output dir>/adata.h5ad`` (``obsm["X_sivae"]``,
``varm["sivae_loadings"]``, ``var["sivae_degree_centrality"]``, ...),
``<output dir>/model/`` and ``<output dir>/history.tsv``.
"""

import logging
import sys
from pathlib import Path

try:
    import sivae.cli
except ImportError:  # rule run in a conda env without the package: use the repository copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "lib"))
    import sivae.cli
from sivae._validation import log_to_file

# Everything the script and the library log goes to the rule's log file.
log_to_file(snakemake.log[0])


# Config variant names -> `sivae train --variant` names (gamma is passed separately).
CLI_VARIANTS = {
    "siVAE": "sivae",
    "siVAE_linear": "sivae-linear",
    "siVAE_NB": "sivae-nb",
    "VAE": "vae",
    "VAE_linear": "vae-linear",
}


def cli_arguments(data, out_dir, settings, device, seed):
    """Command line of `sivae train` for one model entry of the config."""
    epochs = settings["epochs"]
    if isinstance(epochs, int):
        epochs = {"cell": epochs, "feature": epochs, "joint": epochs}
    if epochs["cell"] != epochs["joint"]:
        raise ValueError(
            f"model epochs: cell ({epochs['cell']}) and joint ({epochs['joint']}) must be equal: "
            "`sivae train --epochs` sets both stage 1 and stage 3"
        )
    args = [
        "train",
        "--input", str(data),
        "--output", str(out_dir),
        "--variant", CLI_VARIANTS[settings["variant"]],
        "--n-latent", str(settings["n_latent"]),
        "--hidden", ",".join(str(h) for h in settings["hidden"]),
        "--epochs", str(epochs["cell"]),
        "--feature-epochs", str(epochs["feature"]),
        "--batch-size", str(settings["batch_size"]),
        "--lr", str(settings["learning_rate"]),
        "--device", device,
        "--seed", str(seed),
    ]  # fmt: skip
    if settings["variant"].startswith("siVAE"):  # the VAEs have no interpretability term
        args += ["--gamma", str(settings["gamma"])]
    optional = {
        "--batch-key": settings.get("batch_key"),
        "--labels-key": settings.get("labels_key"),
        "--layer": settings.get("layer"),
    }
    for flag, value in optional.items():
        if value:
            args += [flag, value]
    return args


out_dir = Path(snakemake.output.adata).parent
params = snakemake.params
args = cli_arguments(snakemake.input[0], out_dir, params.settings, params.device, params.seed)
logging.getLogger(__name__).info("sivae %s", " ".join(args))
status = sivae.cli.main(args)
if status:
    raise SystemExit(f"sivae train exited with status {status}; see the messages above")
