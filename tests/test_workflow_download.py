"""A `source: url` dataset through the workflow: download rule (against an HTTP server
on 127.0.0.1 that this test starts) -> raw.h5ad -> preprocessed.h5ad; and a download
whose checksum is wrong fails with the URL in the log and leaves no file behind."""

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from test_workflow import copy_workflow, snakemake, write_yaml

pytestmark = pytest.mark.workflow


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def served(tmp_path):
    """A small counts .h5ad served over HTTP; yields (base URL, file name, sha256)."""
    root = tmp_path / "server"
    root.mkdir()
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, size=(120, 40)).astype(np.float32)
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical(rng.choice(["a", "b", "c"], size=120))},
        index=[f"cell{i}" for i in range(120)],
    )
    var = pd.DataFrame(index=[f"gene{j}" for j in range(40)])
    ad.AnnData(counts, obs=obs, var=var).write_h5ad(root / "mydata.h5ad")
    digest = hashlib.sha256((root / "mydata.h5ad").read_bytes()).hexdigest()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", "mydata.h5ad", digest
    finally:
        server.shutdown()
        server.server_close()


def url_config(tmp_path, url, sha256):
    return write_yaml(
        tmp_path / "served.yaml",
        {
            "datasets": {
                "served": {
                    "source": "url",
                    "url": url,
                    "sha256": sha256,
                    "reader": "h5ad",
                    "label_key": "cell_type",
                    "preprocess": {"qc": {"min_genes": 1, "min_cells": 1}},
                }
            }
        },
    )


def test_url_dataset_is_downloaded_and_preprocessed(tmp_path, served):
    base, name, digest = served
    copy_workflow(tmp_path)
    extra = url_config(tmp_path, f"{base}/{name}", digest)
    snakemake(
        "results/served/preprocessed.h5ad", "--cores", "1", "--configfile", str(extra), cwd=tmp_path
    )
    downloaded = tmp_path / "resources" / "data" / "served" / name
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == digest
    assert not list(downloaded.parent.glob("*.part"))
    pre = ad.read_h5ad(tmp_path / "results/served/preprocessed.h5ad")
    assert pre.n_obs > 0 and pre.n_vars > 0
    assert {"mean", "std"} <= set(pre.var.columns)
    # a second invocation has nothing to do
    _, output = snakemake(
        "results/served/preprocessed.h5ad", "-n", "--configfile", str(extra), cwd=tmp_path
    )
    assert "Nothing to be done" in output


def test_wrong_checksum_fails_naming_the_url_and_leaves_nothing(tmp_path, served):
    base, name, _ = served
    copy_workflow(tmp_path)
    url = f"{base}/{name}"
    extra = url_config(tmp_path, url, "0" * 64)
    code, _ = snakemake(
        "results/served/raw.h5ad",
        "--cores",
        "1",
        "--retries",
        "0",
        "--configfile",
        str(extra),
        cwd=tmp_path,
        check=False,
    )
    assert code != 0
    target_dir = tmp_path / "resources" / "data" / "served"
    assert not target_dir.exists() or not any(target_dir.iterdir())
    log = (tmp_path / "logs" / "download" / "served" / f"{name}.log").read_text()
    assert url in log and "sha256" in log.lower()
    assert not (tmp_path / "results" / "served" / "raw.h5ad").exists()
