"""Conda environments: valid files, one named by every rule, pins equal to the lock."""

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVS = sorted((ROOT / "envs").glob("*.yaml"))
RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_versions():
    versions = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            versions[canonical(name)] = version
    return versions


def rules_and_envs():
    """(rule file, rule name, conda env path) for every rule, parsed from the sources."""
    found = []
    for path in RULE_FILES:
        text = path.read_text()
        blocks = re.split(r"^(?:rule|checkpoint) (\w+):\n", text, flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
            match = re.search(r'^\s+conda:\n\s+"([^"]+)"', body, flags=re.M)
            found.append((path, name, match.group(1) if match else None))
    return found


def test_there_are_env_files():
    assert {p.stem for p in ENVS} >= {"data", "model", "networks", "cohort"}


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_file_is_valid_and_pinned_like_the_lock(env):
    spec = yaml.safe_load(env.read_text())
    assert set(spec) == {"name", "channels", "dependencies"}
    assert "conda-forge" in spec["channels"]
    conda_deps = [d for d in spec["dependencies"] if isinstance(d, str)]
    pip_sections = [d["pip"] for d in spec["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) == 1 and "pip" in conda_deps
    python = [d for d in conda_deps if d.startswith("python")]
    assert python == [f"python={sys.version_info.major}.{sys.version_info.minor}"]
    lock = lock_versions()
    for requirement in pip_sections[0]:
        name, sep, version = requirement.partition("==")
        assert sep, f"{env.name}: {requirement!r} is not pinned with =="
        assert canonical(name) in lock, f"{env.name}: {name} is not in requirements.lock"
        assert lock[canonical(name)] == version, (
            f"{env.name}: {name}=={version} but requirements.lock has {lock[canonical(name)]}"
        )


def test_every_rule_names_an_existing_env():
    found = rules_and_envs()
    names = {name for _, name, _ in found}
    assert {"download", "preprocess", "bins", "train_model", "train_bin"} <= names
    for path, name, env in found:
        if name == "all":
            continue
        assert env is not None, f"rule {name} ({path.name}) has no conda: directive"
        assert (path.parent / env).resolve().is_file(), f"rule {name}: {env} does not exist"
        assert (path.parent / env).resolve().parent == ROOT / "envs"


def test_every_env_is_used():
    used = {(p.parent / env).resolve() for p, _, env in rules_and_envs() if env}
    assert {p.resolve() for p in ENVS} == used
