"""The ``sivae`` command end to end on tiny data."""

import json
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sivae.cli import main


def _write_tiny(path, n_cells=60, n_genes=10):
    rng = np.random.default_rng(0)
    adata = ad.AnnData(rng.standard_normal((n_cells, n_genes)).astype(np.float32))
    adata.var_names = [f"g{i}" for i in range(n_genes)]
    adata.obs["batch"] = np.where(np.arange(n_cells) % 2 == 0, "a", "b")
    adata.layers["counts"] = rng.poisson(2.0, size=(n_cells, n_genes)).astype(np.float32)
    adata.write_h5ad(path)
    return adata


def test_help_works():
    out = subprocess.run(
        [sys.executable, "-m", "sivae.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "train" in out.stdout
    with pytest.raises(SystemExit) as err:
        main(["train", "--help"])
    assert err.value.code == 0


@pytest.mark.parametrize(
    "variant,extra,loadings",
    [
        ("sivae", ["--batch-key", "batch"], True),
        ("vae", [], False),
        ("vae-linear", ["--layer", "counts"], True),
    ],
)
def test_train_writes_outputs(tmp_path, variant, extra, loadings):
    _write_tiny(tmp_path / "in.h5ad")
    out = tmp_path / "out"
    args = [
        "train",
        "--input",
        str(tmp_path / "in.h5ad"),
        "--output",
        str(out),
        "--variant",
        variant,
    ]
    args += [
        "--hidden",
        "8,4",
        "--epochs",
        "2",
        "--feature-epochs",
        "2",
        "--batch-size",
        "20",
        "--quiet",
    ]
    assert main(args + extra) == 0
    result = ad.read_h5ad(out / "adata.h5ad")
    assert result.obsm["X_sivae"].shape == (60, 2) and np.isfinite(result.obsm["X_sivae"]).all()
    assert ("sivae_loadings" in result.varm) == loadings
    np.testing.assert_allclose(
        result.var["sivae_degree_centrality"], -result.var["sivae_reconstruction_error"]
    )
    history = pd.read_csv(out / "history.tsv", sep="\t")
    assert {"stage", "epoch", "total"} <= set(history.columns) and len(history) > 0
    assert (out / "model" / "model.safetensors").exists()
    assert (out / "history.png").exists()
    # no --variance: per cell for Gaussian, one inverse dispersion per gene for NB
    params = json.loads(next((out / "model").glob("*.json")).read_text())
    found = params.get("params", params).get("variance")
    assert found == ("gene" if variant == "vae-linear" else "cell")


def test_errors_exit_2_with_one_line(tmp_path, capsys):
    _write_tiny(tmp_path / "in.h5ad")
    base = ["train", "--output", str(tmp_path / "o"), "--hidden", "8", "--quiet"]
    assert main(base + ["--input", str(tmp_path / "missing.h5ad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sivae: error:") and "missing.h5ad" in err and "\n" not in err
    assert main(base + ["--input", str(tmp_path / "in.h5ad"), "--batch-key", "donor"]) == 2
    assert "donor" in capsys.readouterr().err
    assert main(base + ["--input", str(tmp_path / "in.h5ad"), "--n-latent", "0"]) == 2
    assert "n_latent" in capsys.readouterr().err


def test_compile_flag_from_config_reaches_train(tmp_path, monkeypatch):
    from sivae.cli import train_arguments
    from sivae.model._base import BaseModel

    settings = {
        "variant": "siVAE",
        "n_latent": 2,
        "hidden": [8, 4],
        "epochs": 2,
        "batch_size": 20,
        "learning_rate": 1e-3,
        "gamma": 0.05,
    }
    assert "--compile" not in train_arguments("x.h5ad", "out", settings, "cpu", 0)
    _write_tiny(tmp_path / "in.h5ad")
    args = train_arguments(
        tmp_path / "in.h5ad", tmp_path / "out", {**settings, "compile": True}, "cpu", 0
    )
    assert "--compile" in args
    seen = {}
    original = BaseModel.train

    def record(self, **kwargs):
        seen["compile"] = kwargs["compile"]
        return original(self, **{**kwargs, "compile": False})  # compiling is test_compiled's

    monkeypatch.setattr(BaseModel, "train", record)
    assert main(args + ["--quiet"]) == 0
    assert seen == {"compile": True}
