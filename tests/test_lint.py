"""Style is part of the test suite: ruff (lint + format) on all Python, snakefmt on
the workflow (the latter in test_workflow.py)."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = ROOT / ".venv" / "bin" / "ruff"


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(command):
    ruff = str(RUFF) if RUFF.exists() else "ruff"
    result = subprocess.run([ruff, *command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
