"""The config schema: misspelt keys and wrong values fail with a message naming
them, and defaults are filled (the same `snakemake.utils.validate` the Snakefile calls)."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "config" / "schema.yaml")


def load(name="config.yaml"):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def validation_message(config):
    with pytest.raises(WorkflowError) as err:
        validate(config, SCHEMA)
    return str(err.value)


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    config = load("config.yaml")
    if name == "paper.yaml":
        # paper.yaml is used on top of the default, as Snakemake merges --configfile.
        from snakemake.utils import update_config

        update_config(config, load(name))
    validate(config, SCHEMA)
    assert config["datasets"]


def mutate(path, value):
    config = load()
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (("datasets", "digits", "lable_key"), "label", "'lable_key' was unexpected"),
        (("datasets", "digits", "source"), "ftp", "'ftp' is not one of"),
        (("datasets", "cohort", "preprocess", "hvg", "ntop"), 10, "'ntop' was unexpected"),
        (("datasets", "digits", "preprocess", "test_fraction"), 1.5, "1.5 is greater than"),
        (("analyses", "embeding"), ["digits"], "'embeding' was unexpected"),
        (("device",), "gpu", "'gpu' is not one of"),
        (("models", "siVAE", "variant"), "SIVAE", "'SIVAE' is not one of"),
        (("models", "siVAE", "gama"), 0.1, "'gama' was unexpected"),
        (("cohort", "node_label"), "colour", "'colour' is not one of"),
        (("seed",), -1, "-1 is less than the minimum"),
        (("colour",), "red", "'colour' was unexpected"),
    ],
)
def test_wrong_key_or_value_fails_naming_it(path, value, expected):
    message = validation_message(mutate(path, value))
    assert expected in message


def test_url_dataset_without_url_fails():
    config = load()
    config["datasets"]["web"] = {"source": "url"}
    assert "'url' is a required property" in validation_message(config)


def test_file_dataset_without_path_fails():
    config = load()
    config["datasets"]["mine"] = {"source": "file"}
    assert "'path' is a required property" in validation_message(config)


def test_dataset_name_with_slash_fails():
    config = load()
    config["datasets"]["a/b"] = {"source": "builtin"}
    assert "'a/b' does not match" in validation_message(config)


def test_defaults_are_filled():
    config = {"datasets": {"mine": {"source": "file", "path": "x.h5ad"}}}
    validate(config, SCHEMA)
    entry = config["datasets"]["mine"]
    assert entry["label_key"] is None and entry["group_key"] is None
    assert entry["preprocess"]["qc"] == {
        "min_genes": 0,
        "min_cells": 0,
        "max_genes": None,
        "max_mito": None,
    }
    assert entry["preprocess"]["test_fraction"] == 0.1
    assert entry["preprocess"]["scale"] is True
    assert entry["bins"] == {"bin_size": 1000}
    assert config["device"] == "auto" and config["seed"] == 0
    assert config["analyses"]["embedding"] == []
    assert config["analyses"]["timing"]["n_latent"] == [20]
    assert config["model_defaults"]["hidden"] == [1024, 512, 128]
    assert config["model_defaults"]["gamma"] == 0.05
    assert config["network"]["n_neighbours"] == 20
    assert config["embedding"]["k"] == 15


def test_defaults_do_not_override_given_values():
    config = copy.deepcopy(load())
    validate(config, SCHEMA)
    assert config["datasets"]["cohort"]["bins"]["bin_size"] == 1000
    assert config["model_defaults"]["hidden"] == [128, 64]
    assert config["datasets"]["pbmc68k_reduced"]["label_key"] == "bulk_labels"


def test_readme_documents_every_schema_key():
    """config/README.md names every property the schema defines."""
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    readme = (ROOT / "config" / "README.md").read_text()

    def keys(node):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                yield name
                yield from keys(sub)
            for sub in node.get("$defs", {}).values():
                yield from keys(sub)
            for key in ("additionalProperties", "items"):
                if isinstance(node.get(key), dict):
                    yield from keys(node[key])
            for key in ("oneOf", "allOf"):
                for sub in node.get(key, []):
                    yield from keys(sub)

    # Documented as `key` or as a dotted path ending in it, e.g. `embedding.k`.
    missing = sorted({k for k in keys(schema) if f"`{k}`" not in readme and f".{k}`" not in readme})
    assert not missing, f"config/README.md does not document {missing}"
