"""Helpers of the figure rules (workflow/rules/figures.smk, figure_data.smk): which
dataset each figure draws, the panel files and their report entries, and the tables
behind each panel. Runs while Snakemake builds the DAG (errors are ValueErrors naming
the config key).
"""

FIGURES = config["figures"]
FIGURE_MODEL = FIGURES["model"]
FIGURE_DIR = "results/figures"

# figures.datasets key -> (analysis whose first dataset is the default, keys it needs)
FIGURE_DATASET_DEFAULTS = {
    "toy": ("feature_embedding", ()),
    "embedding": ("embedding", ("label_key",)),
    "batch": ("embedding", ("label_key", "batch_key")),
    "attribution": ("attribution", ()),
    "timing": ("timing", ()),
    "hub": ("network", ()),
    "network": ("network", ()),
    "cohort": ("cohort", ("group_key", "phenotype_key")),
    "case_control": ("cohort", ("group_key", "phenotype_key")),
}


def _figure_dataset(key):
    """Dataset of figure group ``key``, or None (the group's panels are then skipped)."""
    analysis, needed = FIGURE_DATASET_DEFAULTS[key]
    name = FIGURES["datasets"][key]
    if name is None and key == "case_control":
        name = FIGURES["datasets"]["cohort"]
    if name is None:
        candidates = [
            d
            for d in ANALYSES[analysis]
            if all(dataset_entry(d).get(k) for k in needed)
        ]
        if not candidates:
            logger.info(
                f"figures.datasets.{key} is null and analyses.{analysis} has no dataset "
                f"with {', '.join(needed) or 'outputs'}: its panels are skipped"
            )
            return None
        name = candidates[0]
    entry = dataset_entry(name)
    missing = [k for k in needed if not entry.get(k)]
    if missing:
        raise ValueError(
            f"figures.datasets.{key} is {name!r}, but that dataset has no "
            f"{', '.join(missing)}: set datasets.{name}.{missing[0]} or choose another dataset"
        )
    return name


FIGURE_DATASETS = {key: _figure_dataset(key) for key in FIGURE_DATASET_DEFAULTS}
model_entry(FIGURE_MODEL, "figures.model")

# panel -> (figures.datasets key, report category)
PANEL_GROUPS = {
    "fig1b": ("toy", "Figure 1"),
    "fig1c": ("toy", "Figure 1"),
    "fig1d": ("toy", "Figure 1"),
    "fig2a": ("embedding", "Figure 2"),
    "fig2b": ("embedding", "Figure 2"),
    "fig2cd": ("batch", "Figure 2"),
    "fig3a": ("attribution", "Figure 3"),
    "fig3b": ("timing", "Figure 3"),
    "fig3c": ("timing", "Figure 3"),
    "fig3d": ("timing", "Figure 3"),
    "fig4b": ("hub", "Figure 4"),
    "fig4c": ("embedding", "Figure 4"),
    "fig4d": ("embedding", "Figure 4"),
    "fig5a": ("network", "Figure 5"),
    "fig5b": ("network", "Figure 5"),
    "fig5c": ("network", "Figure 5"),
    "fig5d": ("network", "Figure 5"),
    "fig5e": ("network", "Figure 5"),
    "fig6b": ("cohort", "Figure 6"),
    "fig6c": ("cohort", "Figure 6"),
    "fig6d": ("cohort", "Figure 6"),
    "fig6e": ("case_control", "Figure 6"),
    "fig6f": ("case_control", "Figure 6"),
    "figS5": ("embedding", "Supplementary figures"),
    "figS11": ("hub", "Supplementary figures"),
    "figS24": ("embedding", "Supplementary figures"),
    "figS25": ("embedding", "Supplementary figures"),
}


def figure_dataset(key):
    """Dataset of a figure group; clear error when a figure was requested without one."""
    name = FIGURE_DATASETS[key]
    if name is None:
        analysis = FIGURE_DATASET_DEFAULTS[key][0]
        raise ValueError(
            f"a figure needs figures.datasets.{key}, which is null, and analyses.{analysis} "
            f"has no suitable dataset: set figures.datasets.{key} in the config"
        )
    return name


def panel_file(panel, ext="png"):
    return f"{FIGURE_DIR}/{panel}.{ext}"


def panel_output(panel, ext):
    """A panel file flagged for the report, with its caption and figure category."""
    category = PANEL_GROUPS[panel][1]
    return report(
        panel_file(panel, ext),
        caption=f"../report/{panel}.rst",
        category=category,
        subcategory=panel,
        labels={"panel": panel, "format": ext.upper()},
    )


def enabled_panels():
    return [
        p for p, (key, _) in PANEL_GROUPS.items() if FIGURE_DATASETS[key] is not None
    ]


def figure_targets():
    """Every enabled panel (PNG and PDF) and results/figures.tsv (rule `all`)."""
    panels = enabled_panels()
    if not panels:
        return []
    files = [panel_file(p, ext) for p in panels for ext in ("png", "pdf")]
    return files + ["results/figures.tsv"]


def dataset_file(key, path):
    return f"results/{figure_dataset(key)}/{path}"


def figure_model_output(key, name="adata.h5ad"):
    return model_output(figure_dataset(key), FIGURE_MODEL, name)


def figure_gene_sets(key):
    path = dataset_entry(figure_dataset(key)).get("gene_sets")
    return [path] if path else []


# Tables behind each panel ({name: path}); figures.tsv computes "ours" from them.
def panel_tables(panel):
    key = PANEL_GROUPS[panel][0]
    tables = {
        "fig2a": {"embeddings": "embedding/embeddings.tsv"},
        "fig2b": {"knn_accuracy": "embedding/knn_accuracy.tsv"},
        "fig3a": {"agreement": "attribution/agreement.tsv"},
        "fig4d": {"markers": "markers/markers.tsv"},
        "fig5a": {"centrality": "network/centrality.tsv"},
        "fig5b": {"centrality": "network/centrality.tsv"},
        "fig5c": {"neighbour_accuracy": "network/neighbour_accuracy.tsv"},
        "fig5d": {"jaccard": "network/jaccard.tsv"},
        "fig5e": {"mean_correlation": "network/mean_correlation.tsv"},
        "fig6b": {"group_embedding": "cohort/group_embedding.tsv"},
        "fig6c": {"centrality_phenotype": "cohort/centrality_phenotype.tsv"},
        "fig6d": {"edges": "cohort/edges.tsv"},
        "fig6f": {"edges": "cohort/edges.tsv"},
        "figS5": {"gamma_sweep": "gamma_sweep/gamma_sweep.tsv"},
        "figS24": {"feature_input": "feature_input/feature_input.tsv"},
    }.get(panel, {})
    out = {name: dataset_file(key, path) for name, path in tables.items()}
    if panel in ("fig3b", "fig3c", "fig3d"):
        out["timing"] = panel_file("fig3bcd", "tsv")
    if panel == "fig6e":
        out["group_embedding"] = panel_file("fig6e", "tsv")
    return out


def panel_inputs(panel):
    """Non-table files a panel reads (model outputs, histories)."""
    key = PANEL_GROUPS[panel][0]
    if panel in (
        "fig1b",
        "fig1c",
        "fig1d",
        "fig2cd",
        "fig4b",
        "fig4c",
        "fig4d",
        "figS11",
    ):
        return [figure_model_output(key)]
    if panel in ("fig3b", "fig3c", "fig3d"):
        return [dataset_file(key, "timing/timing.tsv")]
    if panel == "fig6e":
        return [dataset_file(key, "cohort/group_embedding.tsv")]
    if panel == "figS25":
        return [
            model_output(figure_dataset(key), m, "history.tsv")
            for m in embedding_model_names(figure_dataset(key))
        ]
    return []


def figures_table_rows():
    rows = []
    for panel in enabled_panels():
        tables = panel_tables(panel)
        files = [panel_file(panel, "png"), panel_file(panel, "pdf")]
        files += list(dict.fromkeys([*tables.values(), *panel_inputs(panel)]))
        rows.append(
            {
                "panel": panel,
                "dataset": figure_dataset(PANEL_GROUPS[panel][0]),
                "files": files,
                "tables": tables,
            }
        )
    return rows


def figures_table_inputs(wildcards):
    return sorted({f for row in figures_table_rows() for f in row["files"]})


# --- figure-only analyses (figure_data.smk) ---------------------------------------

GAMMAS = list(dict.fromkeys(f"{g:g}" for g in FIGURES["gamma_sweep"]["gammas"]))
FEATURE_MODES = FIGURES["feature_input"]["modes"]


def figure_model_settings(dataset, **changes):
    """`figures.model` settings on ``dataset`` with ``changes``; it must be a siVAE variant."""
    settings = dict(model_settings(dataset, FIGURE_MODEL))
    if not settings["variant"].startswith("siVAE"):
        raise ValueError(
            f"figures.model is {FIGURE_MODEL!r} ({settings['variant']}): the γ sweep and the "
            "feature-input comparison need a siVAE variant"
        )
    settings.update(changes)
    return settings


def embedding_settings(dataset):
    """Label key, k and folds of the k-NN accuracy on ``dataset`` (as rule evaluate_embedding)."""
    entry = require_keys(dataset, "embedding")
    return {
        "label_key": entry["label_key"],
        "k": entry["knn_k"] or config["embedding"]["k"],
        "n_splits": config["embedding"]["n_splits"],
    }
