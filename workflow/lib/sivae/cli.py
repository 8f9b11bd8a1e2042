"""Command line interface: ``sivae train --input x.h5ad --output dir``.

Writes ``dir/adata.h5ad`` (input plus ``obsm["X_sivae"]``, ``varm["sivae_loadings"]``,
``var["sivae_reconstruction_error"]``, ``var["sivae_degree_centrality"]``),
``dir/model/`` (the saved model), ``dir/history.tsv`` and ``dir/history.png``.
Errors print one line and exit with status 2.
"""

import argparse
import logging
import os
import sys

VARIANTS = {
    # name: (class, options)
    "sivae": ("SIVAE", {}),
    "sivae-gamma0": ("SIVAE", {"gamma": 0.0}),
    "sivae-linear": ("SIVAE", {"linear": True}),
    "sivae-nb": ("SIVAE", {"likelihood": "nb"}),
    "vae": ("VAE", {}),
    "vae-linear": ("VAE", {"linear_decoder": True, "likelihood": "nb"}),
}


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated integers, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sivae",
        description="siVAE: interpretable VAE for single-cell data (Choi, Li & Quon 2023).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on an .h5ad file and write embeddings")
    t.add_argument("--input", required=True, help="input .h5ad (cells x genes)")
    t.add_argument("--output", required=True, help="output directory")
    t.add_argument(
        "--variant", choices=sorted(VARIANTS), default="sivae", help="model variant (default sivae)"
    )
    t.add_argument("--n-latent", type=int, default=2, help="embedding dimension K (default 2)")
    t.add_argument(
        "--gamma", type=float, default=None, help="interpretability weight (default 0.05)"
    )
    t.add_argument(
        "--hidden", type=_hidden, default=(1024, 512, 128), help="encoder sizes, e.g. 1024,512,128"
    )
    t.add_argument(
        "--likelihood",
        choices=("gaussian", "nb"),
        default=None,
        help="override the variant's likelihood",
    )
    t.add_argument(
        "--variance",
        choices=("cell", "gene", "cell_gene"),
        default=None,
        help="observation scale per cell, gene or both (default: per cell for Gaussian, "
        "per gene for NB, as the original)",
    )
    t.add_argument("--feature-input", choices=("subsample", "pca", "full"), default="subsample")
    t.add_argument(
        "--n-feature-input", type=int, default=None, help="C_red (default min(cells, 10000))"
    )
    t.add_argument("--layer", default=None, help="layer with the observations (counts for NB)")
    t.add_argument("--batch-key", default=None, help="categorical obs column to correct for")
    t.add_argument(
        "--labels-key", default=None, help="obs column stratifying the feature-input subsample"
    )
    t.add_argument(
        "--epochs", type=int, default=None, help="epochs of stages 1 and 3 (default ~2000 steps)"
    )
    t.add_argument("--feature-epochs", type=int, default=None, help="stage-2 epochs over genes")
    t.add_argument("--batch-size", type=int, default=None, help="cells per minibatch (default 128)")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--early-stopping", action="store_true", help="stop on a 10%% held-out split")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--backed", action="store_true", help="read the input in backed mode (large files)"
    )
    t.add_argument("--checkpoint-dir", default=None, help="write checkpoints here")
    t.add_argument("--resume", action="store_true", help="resume from --checkpoint-dir")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training step (pays off on a GPU; slower on a CPU)",
    )
    return parser


def train(args: argparse.Namespace) -> None:
    import anndata as ad

    import sivae

    if not os.path.exists(args.input):
        raise FileNotFoundError(f"input file {args.input} does not exist")
    adata = ad.read_h5ad(args.input, backed="r" if args.backed else None)
    cls_name, options = VARIANTS[args.variant]
    options = dict(options)
    if args.likelihood is not None:
        options["likelihood"] = args.likelihood
    if args.gamma is not None:
        if cls_name != "SIVAE":
            raise ValueError(f"--gamma does not apply to variant {args.variant}")
        options["gamma"] = args.gamma
    if cls_name == "SIVAE":
        options.update(feature_input=args.feature_input, n_feature_input=args.n_feature_input)
    cls = getattr(sivae, cls_name)
    cls.setup_anndata(adata, layer=args.layer, batch_key=args.batch_key, labels_key=args.labels_key)
    model = cls(
        adata,
        n_latent=args.n_latent,
        hidden=args.hidden,
        variance=args.variance,
        seed=args.seed,
        **options,
    )
    model.train(
        max_epochs=args.epochs,
        feature_epochs=args.feature_epochs if cls_name == "SIVAE" else None,
        batch_size=args.batch_size,
        lr=args.lr,
        early_stopping=args.early_stopping,
        device=args.device,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        progress_bar=not args.quiet,
        compile=args.compile,
    )
    os.makedirs(args.output, exist_ok=True)
    model.save(os.path.join(args.output, "model"))
    model.history.to_csv(os.path.join(args.output, "history.tsv"), sep="\t", index=False)
    import matplotlib.pyplot as plt

    fig = sivae.model.plot_history(model.history, os.path.join(args.output, "history.png"))
    plt.close(fig)
    out = adata.to_memory() if args.backed else adata
    out.obsm["X_sivae"] = model.get_latent_representation()
    has_loadings = cls_name == "SIVAE" or options.get("linear_decoder", False)
    if has_loadings:
        out.varm["sivae_loadings"] = model.get_loadings().to_numpy()
    err = model.get_reconstruction_error()
    out.var["sivae_reconstruction_error"] = err.to_numpy()
    out.var["sivae_degree_centrality"] = -err.to_numpy()
    out.uns["sivae"] = {"variant": args.variant, "n_latent": args.n_latent, "seed": args.seed}
    out.uns.pop("_sivae_setup", None)
    out.write_h5ad(os.path.join(args.output, "adata.h5ad"))
    logging.getLogger(__name__).info("wrote %s", args.output)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sivae`` console command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        if args.command == "train":
            train(args)
    except (ValueError, FileNotFoundError, KeyError, OSError) as err:
        print(f"sivae: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())


# Model names of the workflow config (`models.<name>.variant`) -> `--variant` values.
CONFIG_VARIANTS = {
    "siVAE": "sivae",
    "siVAE_linear": "sivae-linear",
    "siVAE_NB": "sivae-nb",
    "VAE": "vae",
    "VAE_linear": "vae-linear",
}


def train_arguments(data, out_dir, settings, device, seed, **extra) -> list[str]:
    """``sivae train`` arguments for one model entry of the workflow config.

    ``settings`` is the merged model entry (variant, n_latent, gamma, hidden, epochs,
    batch_size, learning_rate, optional compile, batch_key / labels_key / layer); ``extra`` adds
    flags by name (``feature_input="pca"`` -> ``--feature-input pca``); None is left out.
    """
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
        "--variant", CONFIG_VARIANTS[settings["variant"]],
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
    if settings.get("compile"):
        args.append("--compile")
    optional = {
        "batch_key": settings.get("batch_key"),
        "labels_key": settings.get("labels_key"),
        "layer": settings.get("layer"),
        **extra,
    }
    for name, value in optional.items():
        if value is not None and value != "":
            args += ["--" + name.replace("_", "-"), str(value)]
    return args
