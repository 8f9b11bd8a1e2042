"""Machine and commit stamps, device choice and output of the tables benchmarks append to results.md."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

HERE = Path(__file__).parent


def machine() -> str:
    """CPU, core count, GPU and torch version, e.g. ``x86_64, 2 CPUs, no GPU, torch 2.13.0``."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} CPUs, {gpu}, torch {torch.__version__}"


def commit() -> str:
    """Short commit of the checkout, ``+uncommitted`` when tracked files differ from it.

    A copy without ``.git`` (e.g. a working tree shipped to a GPU machine) takes it
    from the environment variable ``SIVAE_COMMIT``.
    """
    if os.environ.get("SIVAE_COMMIT"):
        return os.environ["SIVAE_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=HERE,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pick_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; TF32 matmuls on CUDA."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def report(text: str, results: str | os.PathLike | None) -> None:
    """Print a table and append it to ``results`` (skipped when ``results`` is None)."""
    print(text)
    if results is not None:
        with open(results, "a") as fh:
            fh.write("\n" + text)
