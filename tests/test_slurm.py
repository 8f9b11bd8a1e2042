"""The SLURM profile on a real single-node SLURM cluster (see tests/slurm_cluster.py).

Needs root and the Debian packages ``slurm-wlm`` and ``munge`` (installed here with apt
when missing); skipped with the reason otherwise. What is checked:

* a small self-contained workflow (written to a temporary directory) run through
  ``--profile profiles/slurm`` produces byte-identical outputs to a local run through
  ``--profile profiles/default``; every job really ran as a SLURM job (it records
  ``SLURM_JOB_ID``), training jobs in partition ``gpu`` with a GPU allocated, and the
  per-bin training jobs went out as few grouped submissions;
* a training job cancelled with ``scancel`` while it runs is resubmitted (the profile's
  ``retries``) and the workflow still completes;
* a second invocation after completion submits nothing;
* the project's own Snakefile on ``tests/configs/tiny.yaml`` gives the same results on
  SLURM as locally (skipped until that config exists).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from slurm_cluster import slurm_cluster, unavailable_reason  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
N_BINS = 3
GROUP_COMPONENTS = 8  # profiles/slurm: group-components train_bins
# Options the test cluster needs on top of the profile: no accounts, no slurmdbd (so job
# states come from squeue), a fast first status check, and caps on per-job requests
# (mem_mb, threads) so that the profile's site-sized requests fit this one small node.
SLURM_TEST_OPTIONS = [
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--slurm-keep-successful-logs",
]

# A toy of the project's structure: data -> per-bin trainings (grouped on SLURM) and a slow
# whole-data training -> summary. Jobs are shell commands running toy_job.py (a `run:` block
# would start a second Snakemake per job, which costs seconds on a small CI machine).
TOY_SNAKEFILE = textwrap.dedent(
    """
    import sys

    N_BINS = config["n_bins"]
    BINS = range(N_BINS)
    JOB = f"{sys.executable} {workflow.basedir}/toy_job.py"

    # make_data is cheap: it runs in the main Snakemake process (one SLURM job fewer).
    localrules: all, make_data


    rule all:
        input:
            "results/summary.tsv",


    rule make_data:
        output:
            "results/data.tsv",
        resources:
            try_no=lambda wildcards, attempt: attempt,
        shell:
            "{JOB} make_data {resources.try_no} {output}"


    rule train_bin:
        input:
            "results/data.tsv",
        output:
            "results/bins/{b}.tsv",
        resources:
            gpu=1,
            try_no=lambda wildcards, attempt: attempt,
        shell:
            "{JOB} train_bin_{wildcards.b} {resources.try_no} {output} {input} {wildcards.b} {N_BINS}"


    rule train_model:
        input:
            "results/data.tsv",
        output:
            "results/model.tsv",
        params:
            first_attempt_sleep_s=config["first_attempt_sleep_s"],
        resources:
            gpu=1,
            try_no=lambda wildcards, attempt: attempt,
        shell:
            "{JOB} train_model {resources.try_no} {output} {input} {params.first_attempt_sleep_s}"


    rule summarize:
        input:
            bins=expand("results/bins/{b}.tsv", b=BINS),
            model="results/model.tsv",
        output:
            "results/summary.tsv",
        resources:
            try_no=lambda wildcards, attempt: attempt,
        shell:
            "{JOB} summarize {resources.try_no} {output} {input}"
    """
)

# Each job writes deterministic numbers and appends where it ran to trace/<job>.txt, which
# is no declared output: Snakemake keeps it across retries and the runs do not compare it.
TOY_JOB = textwrap.dedent(
    """
    import os, random, sys, time

    name, attempt, output, *args = sys.argv[1:]
    os.makedirs("trace", exist_ok=True)
    with open(f"trace/{name}.txt", "a") as fh:
        fh.write(
            f"attempt={attempt} slurm_job={os.environ.get('SLURM_JOB_ID', '')} "
            f"partition={os.environ.get('SLURM_JOB_PARTITION', '')} "
            f"gpus={os.environ.get('CUDA_VISIBLE_DEVICES', '')}\\n"
        )
    lines = []
    if name == "make_data":
        rng = random.Random(0)
        lines = ["\\t".join(f"{rng.gauss(0, 1):.6f}" for _ in range(4)) for _ in range(200)]
    elif name.startswith("train_bin"):
        rows = [list(map(float, line.split())) for line in open(args[0])]
        b, n_bins = int(args[1]), int(args[2])
        chunk = rows[b::n_bins]
        rng = random.Random(100 + b)
        lines = ["\\t".join(f"{sum(c) / len(c) + rng.random():.6f}" for c in zip(*chunk))]
    elif name == "train_model":
        if attempt == "1":
            time.sleep(float(args[1]))  # the test cancels this first attempt meanwhile
        rows = [list(map(float, line.split())) for line in open(args[0])]
        lines = [f"{sum(map(sum, rows)):.6f}"]
    elif name == "summarize":
        lines = [open(path).read().rstrip("\\n") for path in args]
    with open(output, "w") as fh:
        fh.write("\\n".join(lines) + "\\n")
    """
)


def write_toy(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text(TOY_SNAKEFILE)
    (workdir / "toy_job.py").write_text(TOY_JOB)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One SLURM cluster for the module; every daemon it started is stopped afterwards."""
    reason = unavailable_reason(install=True)
    if reason:
        pytest.skip(reason)
    # A short path: slurmd keeps UNIX sockets under it (at most 107 bytes).
    directory = tmp_path_factory.mktemp("slurm")
    # Two fake GPUs: the grouped per-bin trainings hold one while train_model uses the other,
    # so the cancel-and-retry of train_model overlaps the group instead of waiting for it.
    with slurm_cluster(directory, n_gpus=2) as running:
        yield running


def snakemake(workdir: Path, *args: str, env=None, timeout=240, check=True):
    """Run Snakemake in ``workdir``; returns the CompletedProcess (output on failure)."""
    command = [SNAKEMAKE, "--directory", str(workdir), *args]
    result = subprocess.run(
        command,
        cwd=workdir,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr[-6000:]}"
        )
    return result


def slurm_args(cluster, *extra: str) -> list[str]:
    """The command line for a SLURM run: the repo's profile plus test-cluster options."""
    return [
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # What Snakemake picks up by itself when the Snakefile sits in the repository.
        "--workflow-profile",
        str(REPO / "profiles" / "default"),
        *SLURM_TEST_OPTIONS,
        "--resources",
        "gpu=1",
        # Cap each job at a quarter of the node so that up to four jobs share it.
        f"mem_mb={cluster.real_memory_mb // 4}",
        "--max-threads",
        str(cluster.cpus),
        *extra,
    ]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def wait_for(predicate, timeout_s: float, what: str, process=None):
    """Poll ``predicate`` until truthy; fail early if ``process`` exits meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"Snakemake exited ({process.returncode}) before {what}")
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_profiles_parse_and_dry_run(tmp_path):
    """Both profiles are valid for Snakemake 9 (a dry run needs no cluster)."""
    write_toy(tmp_path)
    config = ["--config", f"n_bins={N_BINS}", "first_attempt_sleep_s=0"]
    for profile, extra in (("default", []), ("slurm", ["--slurm-no-account"])):
        result = snakemake(
            tmp_path, "--profile", str(REPO / "profiles" / profile), "-n", *extra, *config
        )
        assert "train_model" in result.stdout + result.stderr


def copy_project(dest: Path) -> None:
    """Copy what a run of the project's workflow reads into ``dest`` (no results, no data).

    The Snakefile resolves ``config/`` and ``scripts/`` against the working directory, so a
    run in a temporary directory needs its own copy; ``profiles/default`` comes along and is
    picked up as the workflow profile, as in a run from the repository.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "scripts", "config", "envs", "workflow/rules", "workflow/report"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.exists():
            shutil.copy(src, dest / name)
    shutil.copytree(REPO / "profiles", dest / "profiles")
    if (REPO / "resources").is_dir():
        shutil.copytree(
            REPO / "resources", dest / "resources", ignore=shutil.ignore_patterns("data")
        )


def load_profile(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


def test_profiles_share_no_key():
    """profiles/default is loaded for every run and would win over profiles/slurm per key."""
    shared = load_profile("default").keys() & load_profile("slurm").keys()
    assert not shared, f"keys in both profiles (profiles/default silently wins): {shared}"


def test_slurm_profile_names_existing_rules():
    """Every rule named in profiles/slurm exists in the workflow (catches renamed rules)."""
    if not (REPO / "Snakefile").exists():
        pytest.skip("the project's Snakefile does not exist yet")
    listed = snakemake(REPO, "--list-rules", "--workflow-profile", "none").stdout.split()
    profile = load_profile("slurm")
    named = set(profile["set-resources"]) | set(profile["groups"])
    assert named <= set(listed), (
        f"rules in profiles/slurm not in the workflow: {named - set(listed)}"
    )
    assert {"train_model", "train_bin"} <= named


@pytest.mark.slurm
def test_toy_workflow_on_slurm_matches_local_and_survives_scancel(cluster, tmp_path):
    config = ["--config", f"n_bins={N_BINS}"]
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    for workdir in (local_dir, slurm_dir):
        write_toy(workdir)

    snakemake(
        local_dir,
        "--profile",
        str(REPO / "profiles" / "default"),
        "--cores",
        "2",
        *config,
        "first_attempt_sleep_s=0",
    )

    jobs_before = {job["id"] for job in cluster.jobs()}
    command = [
        SNAKEMAKE,
        "--directory",
        str(slurm_dir),
        *slurm_args(cluster),
        *config,
        "first_attempt_sleep_s=300",
    ]
    with open(tmp_path / "slurm_run.log", "w") as out:
        run = subprocess.Popen(command, cwd=slurm_dir, env=cluster.env, stdout=out, stderr=out)
        try:
            # Cancel train_model's first attempt once it is running inside SLURM.
            model_log = slurm_dir / "trace" / "train_model.txt"
            wait_for(
                lambda: model_log.exists() and "attempt=1" in model_log.read_text(),
                120,
                "train_model's first attempt to start",
                process=run,
            )
            first_job = model_log.read_text().split("slurm_job=")[1].split()[0]
            cluster.run("scancel", first_job)
            returncode = run.wait(timeout=180)
        except AssertionError as err:
            log = (tmp_path / "slurm_run.log").read_text()[-6000:]
            raise AssertionError(f"{err}\n{log}\n{cluster.log_tail()}") from err
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    output = (tmp_path / "slurm_run.log").read_text()
    assert returncode == 0, f"SLURM run failed:\n{output[-6000:]}\n{cluster.log_tail()}"

    # Same results, byte for byte, as the local run.
    assert tree(slurm_dir / "results") == tree(local_dir / "results")
    assert len(tree(slurm_dir / "results")) == N_BINS + 3

    # Every job ran under SLURM; training jobs in partition gpu with a GPU.
    ours = [job for job in cluster.jobs() if job["id"] not in jobs_before]
    slurm_ids = {job["id"] for job in ours}
    logs = {p.stem: p.read_text().splitlines() for p in (slurm_dir / "trace").glob("*.txt")}
    assert logs == {
        name: logs.get(name)
        for name in ["make_data", "train_model", "summarize"]
        + [f"train_bin_{b}" for b in range(N_BINS)]
    }
    assert len(logs) == N_BINS + 3
    for name, lines in logs.items():
        if name == "make_data":  # a localrule
            assert "slurm_job= " in lines[0], lines
            continue
        for line in lines:
            fields = dict(item.split("=", 1) for item in line.split())
            assert fields["slurm_job"] in slurm_ids, (name, line)
            if name.startswith("train_"):
                assert fields["partition"] == "gpu", (name, line)
                assert fields["gpus"] != "", (name, line)
            else:
                assert fields["partition"] == "main", (name, line)

    # The cancelled attempt was resubmitted and the second attempt completed.
    attempts = [line.split()[0] for line in logs["train_model"]]
    assert attempts == ["attempt=1", "attempt=2"], logs["train_model"]
    states = {job["id"]: job["state"] for job in ours}
    assert states[first_job] == "CANCELLED"

    # The per-bin trainings went out grouped: ceil(N_BINS / 8) submissions, not N_BINS.
    bin_jobs = {
        line.split("slurm_job=")[1].split()[0]
        for b in range(N_BINS)
        for line in logs[f"train_bin_{b}"]
    }
    assert len(bin_jobs) == math.ceil(N_BINS / GROUP_COMPONENTS)

    # A second invocation finds nothing to do and submits nothing.
    n_jobs = len(cluster.jobs())
    again = snakemake(
        slurm_dir, *slurm_args(cluster), *config, "first_attempt_sleep_s=300", env=cluster.env
    )
    assert "Nothing to be done" in again.stdout + again.stderr
    assert len(cluster.jobs()) == n_jobs


PROJECT_TARGETS = (
    "results/toy_network/models/siVAE/adata.h5ad",
    "results/cohort/cohort/gsea.tsv",
)


@pytest.mark.slurm
@pytest.mark.workflow
def test_project_workflow_on_slurm_matches_local(cluster, tmp_path):
    """The real Snakefile on the tiny config: same outputs on SLURM as locally.

    The targets cover every kind of job the cluster sees (data, a model training on the
    GPU partition, the bins checkpoint, the grouped per-bin trainings, an analysis)
    without the whole figure DAG, since each SLURM job costs two Snakemake start-ups.
    """
    if not TINY_CONFIG.exists():
        pytest.skip(f"{TINY_CONFIG.relative_to(REPO)} not written yet (the lead provides it)")
    if not (REPO / "Snakefile").exists():
        pytest.skip("the project's Snakefile does not exist yet")
    results = {}
    for mode in ("local", "slurm"):
        workdir = tmp_path / mode
        copy_project(workdir)
        args = ["--cores", "2"] if mode == "local" else slurm_args(cluster)
        snakemake(
            workdir,
            *PROJECT_TARGETS,
            "--configfile",
            str(TINY_CONFIG),
            *args,
            env=cluster.env if mode == "slurm" else None,
            timeout=600,
        )
        results[mode] = tree(workdir / "results")
    assert results["slurm"].keys() == results["local"].keys()
    assert results["slurm"], "the tiny workflow produced no results/"
    # Tables are text written from seeded computations with the same thread counts: they must
    # match byte for byte. Binary containers (h5ad/HDF5, PDF, PNG, model weights) embed
    # creation times or library metadata, so for them only presence and size > 0 are compared.
    # history.tsv files hold wall-clock seconds per epoch, so they are left out too.
    text = (".tsv", ".csv", ".txt", ".json", ".gmt", ".yaml")
    different = [
        name
        for name in results["local"]
        if name.endswith(text)
        and not name.endswith("history.tsv")
        and results["local"][name] != results["slurm"][name]
    ]
    assert not different, f"tables differ between local and SLURM runs: {different}"
    # Snakemake marks finished directory outputs with an empty .snakemake_timestamp file.
    empty = [
        name
        for name, data in results["slurm"].items()
        if not data and not name.endswith(".snakemake_timestamp")
    ]
    assert not empty, f"empty outputs of the SLURM run: {empty}"
