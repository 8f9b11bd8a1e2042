"""Rule `train_feature_input`: siVAE with one feature-encoder input (Fig. S24).

Methods: the feature-wise encoder sees each gene's expression over ``C_red`` cells
instead of all ``C``: a random subsample of cells keeping the label proportions
(``subsample``), the first ``C_red`` principal components of ``X^T`` (``pca``), or all
cells (``full``). Trained through ``sivae train`` like every other model; writes
adata.h5ad, model/ and history.tsv into the output directory.
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

# Config variant names -> `sivae train --variant` names (the siVAE variants only).
CLI_VARIANTS = {"siVAE": "sivae", "siVAE_linear": "sivae-linear", "siVAE_NB": "sivae-nb"}

params = snakemake.params
settings = params.settings
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
    "--input", str(snakemake.input[0]),
    "--output", str(Path(snakemake.output.adata).parent),
    "--variant", CLI_VARIANTS[settings["variant"]],
    "--feature-input", snakemake.wildcards.feature_mode,
    "--n-feature-input", str(params.n_feature_input),
    "--n-latent", str(settings["n_latent"]),
    "--gamma", str(settings["gamma"]),
    "--hidden", ",".join(str(h) for h in settings["hidden"]),
    "--epochs", str(epochs["cell"]),
    "--feature-epochs", str(epochs["feature"]),
    "--batch-size", str(settings["batch_size"]),
    "--lr", str(settings["learning_rate"]),
    "--device", params.device,
    "--seed", str(params.seed),
]  # fmt: skip
optional = {
    "--batch-key": settings.get("batch_key"),
    "--labels-key": params.labels_key,  # stratifies the subsample by cell type
    "--layer": settings.get("layer"),
}
for flag, value in optional.items():
    if value:
        args += [flag, value]
logging.getLogger(__name__).info("sivae %s", " ".join(args))
status = sivae.cli.main(args)
if status:
    raise SystemExit(f"sivae train exited with status {status}; see the messages above")
