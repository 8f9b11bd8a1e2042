"""Helpers shared by the workflow: dataset look-ups, model settings, and which
analyses run on which datasets. Everything here runs while Snakemake builds the
DAG, so errors are raised as ValueError with a message naming the config key.
"""

import os
import re

from snakemake.logging import logger

DATASETS = config["datasets"]
MODELS = config["models"]
DATA_DIR = config["data_dir"]

# Training jobs ask the scheduler for a GPU when the config says so.
GPU = 1 if (config["device"] == "cuda" or config["gpu"]) else 0

# obs keys an analysis cannot run without (Methods: k-NN accuracy needs labels;
# cohort analyses need a group per cell and a phenotype per group).
REQUIRED_KEYS = {
    "embedding": ("label_key",),
    "feature_embedding": (),
    "attribution": (),
    "timing": (),
    "network": (),
    "cohort": ("group_key", "phenotype_key"),
}

# Variants that model raw counts (negative binomial); they read the dataset's `layer`.
COUNT_VARIANTS = ("siVAE_NB", "VAE_linear")
GCN_METHODS = ("CLR", "ARACNE", "MRNET", "GRNBoost2")


def _alternatives(names):
    """Regex matching exactly one of ``names`` (never matches when empty)."""
    names = sorted(names)
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


def dataset_entry(name):
    """The config entry of dataset ``name``; clear error when it is not declared."""
    if name not in DATASETS:
        raise ValueError(
            f"dataset {name!r} is not declared under `datasets:` in the config "
            f"(declared: {', '.join(sorted(DATASETS))})"
        )
    return DATASETS[name]


def require_keys(name, analysis):
    """Raise when dataset ``name`` lacks an obs key that ``analysis`` needs."""
    entry = dataset_entry(name)
    for key in REQUIRED_KEYS[analysis]:
        if not entry.get(key):
            raise ValueError(
                f"analysis {analysis!r} was requested for dataset {name!r}, but the dataset "
                f"has no {key!r}: set datasets.{name}.{key} in the config or remove "
                f"{name!r} from analyses.{analysis}"
            )
    return entry


def datasets_for(analysis):
    """Datasets an analysis runs on.

    ``"all"`` selects every declared dataset that has the keys the analysis
    needs and logs the ones it skips; an explicit list must name datasets that
    have them (else a clear error).
    """
    requested = config["analyses"].get(analysis, [])
    if analysis == "timing":
        requested = config["analyses"]["timing"]["datasets"]
    if requested == "all":
        selected = []
        for name, entry in DATASETS.items():
            missing = [k for k in REQUIRED_KEYS[analysis] if not entry.get(k)]
            if missing:
                logger.info(
                    f"analysis {analysis!r}: skipping dataset {name!r} "
                    f"(no {', '.join(missing)} in its config entry)"
                )
                continue
            selected.append(name)
        return selected
    for name in requested:
        require_keys(name, analysis)
    return list(requested)


def model_entry(name, context):
    """The `models:` entry ``name``; clear error naming where it was referenced."""
    if name not in MODELS:
        raise ValueError(
            f"{context} names model {name!r}, which is not declared under `models:` "
            f"(declared: {', '.join(sorted(MODELS))})"
        )
    return MODELS[name]


def model_settings(dataset, model):
    """Hyper-parameters of ``model`` on ``dataset``.

    Precedence (later wins): ``model_defaults`` < ``datasets.<dataset>.model``
    (e.g. the paper's per-dataset network sizes) < ``models.<model>``.
    """
    entry = dataset_entry(dataset)
    settings = dict(config["model_defaults"])
    settings.update(entry.get("model", {}))
    settings.update(model_entry(model, f"dataset {dataset!r}"))
    if settings.get("layer") is None and settings["variant"] in COUNT_VARIANTS:
        settings["layer"] = entry.get("layer")
    settings["batch_key"] = (
        entry.get("batch_key") if settings["batch_correction"] else None
    )
    return settings


def analysis_datasets():
    """Mapping analysis -> datasets, checked once while the workflow is parsed."""
    selected = {analysis: datasets_for(analysis) for analysis in REQUIRED_KEYS}
    for block in ("embedding", "feature_embedding"):
        for name in config[block]["models"]:
            model_entry(name, f"{block}.models")
    for block in ("attribution", "network", "cohort"):
        if selected[block]:
            model_entry(config[block]["model"], f"{block}.model")
    for name in config["analyses"]["timing"]["models"]:
        model_entry(name, "analyses.timing.models")
    return selected


ANALYSES = analysis_datasets()


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_.-]*",
    model=_alternatives(MODELS),
    group="[^/]+",
    bin="[^/]+",
    method="(siVAE-)?(" + "|".join(GCN_METHODS) + ")",


# --- downloads and raw data -------------------------------------------------


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def download_files(name):
    """Local paths of the files downloaded for a `source: url` dataset."""
    entry = dataset_entry(name)
    return [
        os.path.join(DATA_DIR, name, os.path.basename(url.split("?")[0].rstrip("/")))
        for url in _as_list(entry.get("url"))
    ]


def download_params(wildcards):
    """URL and checksum of one downloaded file, looked up from its file name."""
    entry = dataset_entry(wildcards.dataset)
    urls = _as_list(entry.get("url"))
    checksums = _as_list(entry.get("sha256"))
    checksums += [None] * (len(urls) - len(checksums))
    for url, sha256 in zip(urls, checksums):
        if os.path.basename(url.split("?")[0].rstrip("/")) == wildcards.filename:
            return {"url": url, "sha256": sha256}
    raise ValueError(
        f"dataset {wildcards.dataset!r}: no url in the config ends with {wildcards.filename!r}"
    )


URL_DATASETS = [n for n, e in DATASETS.items() if e["source"] == "url"]


def manual_files():
    """Files a user must fetch by hand, with the message that says how."""
    files = {}
    for name, entry in DATASETS.items():
        if entry["source"] == "file" and entry.get("homepage"):
            files[entry["path"]] = (
                f"dataset {name!r}: download it from {entry['homepage']} and place it at "
                f"{entry['path']!r} (see the comments in the config)"
            )
        if entry.get("gene_sets"):
            files.setdefault(
                entry["gene_sets"],
                f"dataset {name!r}: gene_sets file {entry['gene_sets']!r} is missing; provide "
                "a local .gmt (e.g. KEGG or MSigDB collections from https://www.gsea-msigdb.org)",
            )
    return files


MANUAL_FILES = manual_files()


def raw_inputs(wildcards):
    """Files `load_dataset` reads: downloads, the user's file, or nothing (builtin)."""
    entry = dataset_entry(wildcards.dataset)
    # The loader checks that the gene sets exist, so they must be in place first.
    extra = [entry["gene_sets"]] if entry.get("gene_sets") else []
    if entry["source"] == "url":
        return download_files(wildcards.dataset) + extra
    if entry["source"] == "file":
        return [entry["path"]] + extra
    return extra


# --- trained models -----------------------------------------------------------


def model_output(dataset, model, name="adata.h5ad"):
    return f"results/{dataset}/models/{model}/{name}"


def embedding_model_names(dataset):
    """Models of `embedding.models` that can be trained on ``dataset``: the count
    variants (negative binomial) need the dataset's `layer` of raw counts, since X is
    centred and scaled; without one they are skipped with a log line."""
    names = []
    for name in config["embedding"]["models"]:
        if model_settings(dataset, name)[
            "variant"
        ] in COUNT_VARIANTS and not dataset_entry(dataset).get("layer"):
            logger.info(
                f"embedding: model {name!r} skipped on dataset {dataset!r}: it models raw "
                f"counts and datasets.{dataset}.layer is not set"
            )
            continue
        names.append(name)
    return names


def embedding_models(wildcards):
    require_keys(wildcards.dataset, "embedding")
    return [
        model_output(wildcards.dataset, m)
        for m in embedding_model_names(wildcards.dataset)
    ]


def train_input(wildcards):
    """Preprocessed data; a model variant that needs counts checks its layer here."""
    settings = model_settings(wildcards.dataset, wildcards.model)
    if settings["variant"] in COUNT_VARIANTS and settings["layer"] is None:
        logger.info(
            f"model {wildcards.model!r} ({settings['variant']}) on dataset "
            f"{wildcards.dataset!r}: no count layer configured (datasets."
            f"{wildcards.dataset}.layer); it is trained on X"
        )
    return f"results/{wildcards.dataset}/preprocessed.h5ad"


# --- bins (checkpoint) and cohort ---------------------------------------------


def bin_files(wildcards):
    """(groups, bins) written by the `bins` checkpoint for a dataset."""
    require_keys(wildcards.dataset, "cohort")
    bins_dir = checkpoints.bins.get(dataset=wildcards.dataset).output[0]
    return glob_wildcards(
        os.path.join(bins_dir, "{group,[^/]+}", "{bin,[^/.][^/]*}.h5ad")
    )


def cohort_bin_inputs(wildcards):
    """The bin files themselves (one per {group}/{bin})."""
    found = bin_files(wildcards)
    bins_dir = checkpoints.bins.get(dataset=wildcards.dataset).output[0]
    return expand(
        os.path.join(bins_dir, "{group}", "{bin}.h5ad"),
        zip,
        group=found.group,
        bin=found.bin,
    )


def cohort_bin_models(wildcards):
    """Per-bin training outputs: one job per {group}/{bin} found by the checkpoint."""
    found = bin_files(wildcards)
    return expand(
        "results/{dataset}/cohort/bins/{group}/{bin}/adata.h5ad",
        zip,
        dataset=[wildcards.dataset] * len(found.group),
        group=found.group,
        bin=found.bin,
    )


def gene_sets_input(wildcards):
    path = require_keys(wildcards.dataset, "cohort").get("gene_sets")
    return [path] if path else []


# --- networks ---------------------------------------------------------------


def network_methods():
    methods = list(config["network"]["methods"])
    methods += [f"siVAE-{m}" for m in config["network"]["sivae_gcn_methods"]]
    return methods


def gcn_inputs(wildcards):
    inputs = {"data": f"results/{wildcards.dataset}/preprocessed.h5ad"}
    if wildcards.method.startswith("siVAE-"):
        model = config["network"]["model"]
        inputs["model"] = model_output(wildcards.dataset, model, "model")
        inputs["adata"] = model_output(wildcards.dataset, model)
    return inputs


def network_inputs(wildcards):
    model = config["network"]["model"]
    return {
        "data": f"results/{wildcards.dataset}/preprocessed.h5ad",
        "adata": model_output(wildcards.dataset, model),
        "true_centrality": f"results/{wildcards.dataset}/network/true_centrality.tsv",
        "weights": expand(
            "results/{dataset}/network/weights/{method}.npy",
            dataset=wildcards.dataset,
            method=network_methods(),
        ),
    }


# --- final targets ----------------------------------------------------------

ANALYSIS_OUTPUTS = {
    "embedding": ["embedding/knn_accuracy.tsv", "embedding/embeddings.tsv"],
    "attribution": ["attribution/loadings.tsv", "attribution/agreement.tsv"],
    "timing": ["timing/timing.tsv"],
    "network": [
        "network/centrality.tsv",
        "network/neighbours.tsv",
        "network/neighbour_accuracy.tsv",
        "network/jaccard.tsv",
        "network/mean_correlation.tsv",
    ],
    "cohort": [
        "cohort/group_embedding.tsv",
        "cohort/centrality.tsv",
        "cohort/centrality_phenotype.tsv",
        "cohort/gsea.tsv",
        "cohort/edges.tsv",
    ],
}


def all_targets():
    """Every output the configured analyses produce (rule `all`)."""
    targets = []
    for analysis, outputs in ANALYSIS_OUTPUTS.items():
        for name in ANALYSES[analysis]:
            targets += [f"results/{name}/{out}" for out in outputs]
    for name in ANALYSES["feature_embedding"]:
        targets += [
            model_output(name, m) for m in config["feature_embedding"]["models"]
        ]
    return targets
