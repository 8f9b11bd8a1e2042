"""The benchmark scripts import and parse their options (CI never runs them in full).

A GPU session has minutes of device time: a script that fails to import, or the
session script's shell syntax, must fail here instead.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_is_listed():
    assert set(SCRIPTS) >= {
        "atlas_scale.py",
        "attribution_timing.py",
        "batched_bins.py",
        "hub_centrality_study.py",
        "networks_speed.py",
        "pbmc_knn_claim.py",
        "step_traffic.py",
        "train_throughput.py",
    }


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_help(script):
    done = subprocess.run(
        [sys.executable, script, "--help"], cwd=BENCHMARKS, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_gpu_session_script_parses_and_names_existing_scripts():
    session = BENCHMARKS / "gpu_session.sh"
    subprocess.run(["bash", "-n", str(session)], check=True)
    commands = [line for line in session.read_text().splitlines() if not line.startswith("#")]
    named = set(re.findall(r"python3 (\w+\.py)", "\n".join(commands)))
    assert named and named <= set(SCRIPTS), named - set(SCRIPTS)
