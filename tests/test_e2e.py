"""The whole default workflow end to end on ``tests/configs/tiny.yaml``.

One Snakemake run (2 cores) in a temporary copy of the project, so nothing lands in
the repository; then: every expected file exists, figures are valid PNG/PDF files,
every table has its documented columns and numbers where numbers belong,
``results/figures.tsv`` has one row per panel, ``--report`` works, and a second
invocation has nothing to do.
"""

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import sivae.plotting

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
TINY_CONFIG = ROOT / "tests" / "configs" / "tiny.yaml"
PROJECT_FILES = ("Snakefile", "scripts", "config", "envs", "profiles", "resources", "workflow")

# Datasets of the tiny config, by analysis.
EMBEDDING = ATTRIBUTION = TIMING = "pbmc68k_reduced"
NETWORK = "hub_network"
COHORT = "cohort"

# table -> (documented columns, columns that must be numbers without NaN)
TABLES = {
    f"results/{EMBEDDING}/embedding/knn_accuracy.tsv": (
        ["variant", "k", "fold", "accuracy"],
        ["k", "accuracy"],
    ),
    f"results/{EMBEDDING}/embedding/embeddings.tsv": (
        ["variant", "cell", "label", "batch", "dim1", "dim2"],
        ["dim1", "dim2"],
    ),
    f"results/{ATTRIBUTION}/attribution/loadings.tsv": (
        ["method", "gene", "dimension", "loading"],
        ["dimension", "loading"],
    ),
    f"results/{ATTRIBUTION}/attribution/agreement.tsv": (
        ["method_a", "method_b", "median_spearman"],
        ["median_spearman"],
    ),
    f"results/{TIMING}/timing/timing.tsv": (
        ["method", "mode", "K", "F", "n_cells", "seconds", "extrapolated", "device"],
        ["K", "F", "n_cells", "seconds"],
    ),
    f"results/{NETWORK}/network/true_centrality.tsv": (
        ["gene", "true_centrality"],
        ["true_centrality"],
    ),
    f"results/{NETWORK}/network/centrality.tsv": (
        ["method", "gene", "centrality", "true_centrality"],
        ["centrality", "true_centrality"],
    ),
    f"results/{NETWORK}/network/neighbours.tsv": (["method", "gene", "neighbours"], []),
    f"results/{NETWORK}/network/neighbour_accuracy.tsv": (
        ["method", "gene", "variance_explained"],
        ["variance_explained"],
    ),
    f"results/{NETWORK}/network/jaccard.tsv": (
        ["method_a", "method_b", "gene", "jaccard", "percent_overlap"],
        ["jaccard", "percent_overlap"],
    ),
    f"results/{NETWORK}/network/mean_correlation.tsv": (
        ["method_a", "method_b", "gene", "mean_correlation"],
        ["mean_correlation"],
    ),
    f"results/{COHORT}/cohort/group_embedding.tsv": (
        ["group", "PC1", "PC2", "phenotype"],
        ["PC1", "PC2", "phenotype"],
    ),
    f"results/{COHORT}/cohort/centrality.tsv": (["group"], []),
    f"results/{COHORT}/cohort/centrality_phenotype.tsv": (
        ["gene", "rho", "p", "q", "mean_rho", "mean_p", "mean_q"],
        [],
    ),
    f"results/{COHORT}/cohort/gsea.tsv": (
        ["Term", "NES", "NOM p-val", "FDR q-val", "Lead_genes"],
        [],
    ),
    f"results/{COHORT}/cohort/edges.tsv": (
        ["gene_a", "gene_b", "statistic", "p", "q", "frac_case", "frac_control"],
        ["frac_case", "frac_control"],
    ),
    f"results/{EMBEDDING}/markers/markers.tsv": (
        ["label", "rank", "gene", "score", "logfoldchange", "pval_adj"],
        ["rank", "score", "pval_adj"],
    ),
    f"results/{EMBEDDING}/gamma_sweep/gamma_sweep.tsv": (
        ["gamma", "k", "fold", "accuracy"],
        ["gamma", "k", "accuracy"],
    ),
    f"results/{EMBEDDING}/feature_input/feature_input.tsv": (
        ["mode", "metric", "value"],
        ["value"],
    ),
    "results/figures/fig6e.tsv": (["group", "PC1", "PC2", "phenotype"], ["PC1", "PC2"]),
    "results/figures.tsv": (["panel", "dataset", "files", "paper", "ours", "note"], []),
}
MODEL_OUTPUTS = [
    "results/toy_network/models/siVAE/adata.h5ad",
    "results/hub_network/models/siVAE/adata.h5ad",
    "results/cohort_pools/models/siVAE/adata.h5ad",
    f"results/{EMBEDDING}/markers/markers.gmt",
]


def snakemake(workdir, *args, timeout=1500):
    """Run Snakemake on the tiny config in ``workdir``; returns stdout + stderr.

    Snakemake runs in its own process group, so a timeout ends its jobs too.
    """
    command = [SNAKEMAKE, "--directory", str(workdir), "--configfile", str(TINY_CONFIG), *args]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"`{' '.join(command)}` ran over {timeout} s:\n{output[-4000:]}")
    assert process.returncode == 0, f"`{' '.join(command)}` failed:\n{output[-6000:]}"
    return output


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The project copied to a temporary directory and run once on the tiny config."""
    workdir = tmp_path_factory.mktemp("e2e")
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, workdir / name, ignore=shutil.ignore_patterns("data", "__pycache__", "lib")
            )
        else:
            shutil.copy(src, workdir / name)
    before = repo_results()
    # one thread per job: two small jobs in parallel beat one job on two threads here
    snakemake(workdir, "--cores", "2", "--max-threads", "1", "--retries", "0")
    RUN["repo_results_changed"] = sorted(repo_results() ^ before)
    return workdir


RUN = {}


def repo_results():
    """(path, mtime) of everything under the repository's own results/ and logs/."""
    return {
        (str(p), p.stat().st_mtime)
        for top in ("results", "logs")
        if (ROOT / top).is_dir()
        for p in (ROOT / top).rglob("*")
    }


def panel_files():
    return [
        f"results/figures/{panel}.{ext}"
        for panel in sivae.plotting.PANELS
        for ext in ("png", "pdf")
    ]


def test_every_expected_file_exists(tiny_run):
    expected = [*TABLES, *MODEL_OUTPUTS, *panel_files()]
    missing = [f for f in expected if not (tiny_run / f).is_file()]
    assert not missing, f"missing outputs: {missing}"
    assert not RUN["repo_results_changed"], "the run wrote into the repository"
    empty = [f for f in expected if (tiny_run / f).stat().st_size == 0]
    assert not empty, f"empty outputs: {empty}"


def test_figures_are_valid_png_and_pdf(tiny_run):
    for name in panel_files():
        head = (tiny_run / name).read_bytes()[:8]
        if name.endswith(".png"):
            assert head == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG"
        else:
            assert head.startswith(b"%PDF-"), f"{name} is not a PDF"
            assert (tiny_run / name).read_bytes().rstrip().endswith(b"%%EOF"), name


@pytest.mark.parametrize("table", sorted(TABLES))
def test_tables_have_documented_columns_and_numbers(tiny_run, table):
    columns, numeric = TABLES[table]
    frame = pd.read_csv(tiny_run / table, sep="\t")
    assert len(frame) > 0, f"{table} has no rows"
    absent = [c for c in columns if c not in frame.columns]
    assert not absent, f"{table} lacks columns {absent} (has {list(frame.columns)})"
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        assert values.notna().all(), f"{table}: column {column!r} has NaN or non-numbers"


def test_figures_table_has_one_row_per_panel(tiny_run):
    table = pd.read_csv(tiny_run / "results" / "figures.tsv", sep="\t", keep_default_na=False)
    assert sorted(table["panel"]) == sorted(sivae.plotting.PANELS)
    assert table["panel"].is_unique
    for _, row in table.iterrows():
        files = [f.strip() for f in row["files"].split(",")]
        assert f"results/figures/{row['panel']}.png" in files
        assert all((tiny_run / f).exists() for f in files), row["files"]
        assert row["paper"], f"panel {row['panel']} has no paper headline"
    # panels with a numeric headline in the paper get our number from the tables
    for panel in ("fig2b", "fig3a", "fig5a", "fig6b", "figS5", "figS24"):
        ours = table.loc[table["panel"] == panel, "ours"].item()
        assert any(ch.isdigit() for ch in ours), f"{panel}: no number in 'ours': {ours!r}"


def test_report_and_nothing_left_to_do(tiny_run):
    report = tiny_run / "report.zip"
    snakemake(tiny_run, "--report", str(report))
    with zipfile.ZipFile(report) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    for panel in sivae.plotting.PANELS:
        assert any(n.endswith(f"/{panel}.png") for n in names), f"{panel}.png not in the report"
    output = snakemake(tiny_run, "--cores", "2", "-n")
    assert "Nothing to be done" in output, output[-3000:]
