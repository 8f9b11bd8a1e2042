"""The Snakemake workflow: dry runs (default and paper configs, no network), lint,
formatting, config merging, explicit-versus-"all" analysis selection, and the
preprocessing + binning path run end to end on the embedded cohort data."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")


def snakemake(*args, cwd=ROOT, check=True):
    """Run snakemake; return (returncode, stdout + stderr)."""
    result = subprocess.run(
        [SNAKEMAKE, "--nolock", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output[-4000:]
    return result.returncode, output


def job_counts(output):
    """Job counts from the 'Job stats' table of a dry run."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def write_yaml(path, content):
    path.write_text(yaml.safe_dump(content))
    return path


def test_dry_run_default_config():
    # --forceall: the plan must not depend on results a user already has in the checkout
    _, output = snakemake("-n", "--forceall")
    jobs = job_counts(output)
    n_datasets = len(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["datasets"])
    assert jobs["load_dataset"] == n_datasets and jobs["preprocess"] == n_datasets
    assert jobs["bins"] == 1  # the checkpoint; per-bin jobs appear once it has run
    for rule in ("train_model", "evaluate_embedding", "attribution", "timing"):
        assert jobs[rule] >= 1
    for rule in ("gcn_weights", "network_benchmark", "cohort_analysis"):
        assert jobs[rule] >= 1
    assert "download" not in jobs  # embedded data only


def test_dry_run_paper_config_needs_no_network():
    _, output = snakemake("-n", "--forceall", "--configfile", "config/paper.yaml")
    jobs = job_counts(output)
    assert jobs["download"] == 10  # planned, not fetched
    assert jobs["manual_download"] >= 1  # files fetched by hand: planned with instructions
    assert jobs["bins"] == 3 and jobs["cohort_analysis"] == 3
    assert "resources/data/large_brain_atlas/1M_neurons_filtered_gene_bc_matrices_h5.h5" in output


def test_lint_is_clean():
    _, output = snakemake("--lint")
    assert "Congratulations, your workflow is in a good condition!" in output


def test_snakefmt_check():
    result = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_added_file_dataset_is_merged_and_planned(tmp_path):
    """A dataset in a second --configfile joins the default ones; `all` skips
    datasets without the keys an analysis needs, with a log line."""
    import anndata as ad

    data = tmp_path / "mine.h5ad"
    ad.AnnData(np.ones((4, 3), dtype=np.float32)).write_h5ad(data)
    extra = write_yaml(
        tmp_path / "extra.yaml",
        {
            "datasets": {"mydata": {"source": "file", "path": str(data)}},
            "analyses": {"cohort": "all"},
        },
    )
    _, output = snakemake("results/mydata/preprocessed.h5ad", "-n", "--configfile", str(extra))
    jobs = job_counts(output)
    assert jobs == {"load_dataset": 1, "preprocess": 1}
    assert "skipping dataset 'mydata'" in output and "group_key" in output
    # The default datasets are still declared: `all` still selects the cohort dataset.
    _, output = snakemake("-n", "--configfile", str(extra))
    assert "results/cohort/cohort/gsea.tsv" in output
    assert "results/mydata/cohort" not in output


def test_explicit_cohort_without_group_key_fails(tmp_path):
    extra = write_yaml(tmp_path / "bad.yaml", {"analyses": {"cohort": ["digits"]}})
    code, output = snakemake("-n", "--configfile", str(extra), check=False)
    assert code != 0
    assert "analysis 'cohort' was requested for dataset 'digits'" in output
    assert "'group_key'" in output


def test_misspelt_key_fails_naming_it(tmp_path):
    extra = write_yaml(tmp_path / "typo.yaml", {"datasets": {"digits": {"lable_key": "x"}}})
    code, output = snakemake("-n", "--configfile", str(extra), check=False)
    assert code != 0 and "'lable_key' was unexpected" in output


def copy_workflow(dest):
    for name in ("Snakefile", "scripts", "config", "envs", "workflow/rules", "workflow/report"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy(src, dest / name)
    shutil.copytree(ROOT / "resources" / "gene_sets", dest / "resources" / "gene_sets")


@pytest.mark.workflow
def test_preprocess_and_bins_end_to_end(tmp_path):
    """Embedded cohort data -> preprocessed.h5ad -> bins checkpoint -> bins.tsv, then
    the checkpoint fans the per-bin training out over {group}/{bin}."""
    pytest.importorskip("sivae.pp")
    copy_workflow(tmp_path)
    bin_size = 250
    tiny = write_yaml(
        tmp_path / "tiny.yaml",
        {
            "datasets": {
                "cohort": {
                    "params": {"n_groups": 5, "cells_per_group": [300, 600], "seed": 0},
                    "preprocess": {"hvg": {"n_top": 50, "per_group": True}},
                    "bins": {"bin_size": bin_size},
                }
            }
        },
    )
    # Targets go first: --configfile takes several values.
    snakemake("results/cohort/bins.tsv", "--cores", "2", "--configfile", str(tiny), cwd=tmp_path)

    import anndata as ad

    pre = ad.read_h5ad(tmp_path / "results/cohort/preprocessed.h5ad")
    assert {"mean", "std"} <= set(pre.var.columns) and "split" in pre.obs
    assert abs(float(pre.X.mean())) < 1e-4  # centred per gene
    # group means kept from before the per-group regression (the cohort control)
    means = pd.DataFrame(pre.varm["group_mean_expression"], index=pre.var_names)
    assert sorted(means.columns) == sorted(pre.obs["group"].astype(str).unique())
    assert np.isfinite(means.to_numpy()).all() and (means.std(axis=1) > 0).mean() > 0.9
    manifest = pd.read_csv(tmp_path / "results/cohort/bins.tsv", sep="\t")
    expected = pre.obs["group"].value_counts() // bin_size
    assert len(manifest) == expected.sum() > 0
    assert manifest.groupby("group").size().to_dict() == expected[expected > 0].to_dict()
    assert (manifest["n_cells"] == bin_size).all()
    for path in manifest["path"]:
        assert re.fullmatch(r"results/cohort/bins/[^/]+/[^/]+\.h5ad", path)
    assert (tmp_path / "logs/preprocess/cohort.log").stat().st_size > 0

    _, output = snakemake(
        "results/cohort/cohort/gsea.tsv", "-n", "--configfile", str(tiny), cwd=tmp_path
    )
    assert job_counts(output)["train_bin"] == len(manifest)
    for group, bin_name in zip(manifest["group"], manifest["bin"], strict=True):
        assert f"results/cohort/cohort/bins/{group}/{bin_name}/adata.h5ad" in output


@pytest.mark.workflow
def test_preprocess_scores_and_regresses_cell_cycle(tmp_path):
    """A user's file with a pool and cycling cells: ``cell_cycle: true`` scores S/G2M
    phase (the paper's NeurDiff/SEA-AD preprocessing) and regress_out removes it."""
    import anndata as ad
    from sivae.pp import CELL_CYCLE_GENES

    rng = np.random.default_rng(0)
    genes = CELL_CYCLE_GENES["S"][:15] + CELL_CYCLE_GENES["G2M"][:15] + [f"g{i}" for i in range(90)]
    x = rng.gamma(2.0, 0.5, size=(240, len(genes)))
    cycling = np.repeat([0, 1, 2], 80)
    x[cycling == 1, :15] += 2.0
    x[cycling == 2, 15:30] += 2.0
    x[:, 30:60] += 1.0 * cycling[:, None]  # other genes that follow the cycle
    obs = {"pool": np.tile(["p1", "p2"], 120)}
    data = tmp_path / "cycling.h5ad"
    var = pd.DataFrame(index=genes)
    obs = pd.DataFrame(obs, index=[f"cell{i}" for i in range(len(x))])
    ad.AnnData(x.astype(np.float32), obs=obs, var=var).write_h5ad(data)
    copy_workflow(tmp_path)
    extra = write_yaml(
        tmp_path / "extra.yaml",
        {
            "datasets": {
                "cycling": {
                    "source": "file",
                    "path": str(data),
                    "preprocess": {
                        "cell_cycle": True,
                        "regress_out": ["pool", "S_score", "G2M_score"],
                        "test_fraction": 0.0,
                    },
                }
            }
        },
    )
    snakemake("results/cycling/preprocessed.h5ad", "--cores", "1", "--configfile", str(extra),
              cwd=tmp_path)  # fmt: skip
    pre = ad.read_h5ad(tmp_path / "results/cycling/preprocessed.h5ad")
    assert {"S_score", "G2M_score", "phase"} <= set(pre.obs.columns)
    assert set(pre.obs["phase"][cycling == 1]) == {"S"}
    for key in ("S_score", "G2M_score"):
        score = pre.obs[key].to_numpy() - pre.obs[key].mean()
        assert np.abs(score @ np.asarray(pre.X)).max() < 1e-2  # no longer correlated
    log = (tmp_path / "logs/preprocess/cycling.log").read_text()
    assert "cell-cycle scores from 15 S and 15 G2M marker genes" in log
