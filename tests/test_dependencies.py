"""Every package src/ imports is a declared dependency, and every declared one is used.

deptry compares the imports of ``src/`` with ``[project]`` of pyproject.toml; what is declared
for another reason (run-time tools that nothing imports, the optional h5py) is listed, with
the reason, in ``[tool.deptry]``. A failure prints deptry's report: declare the package (with a
lower bound) or add it, with a comment, to ``[tool.deptry.per_rule_ignores]``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("deptry") is None,
                    reason="deptry is not installed (it is in the test extra and requirements/lock.txt)")
def test_imports_and_declared_dependencies_agree() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "deptry", "src", "--config", "pyproject.toml", "--no-ansi"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"deptry found dependency issues (exit {proc.returncode}):\n{report}"


def test_the_rules_conda_environment_installs_the_current_lock():
    """envs/: Python and pip from conda, the packages from the lock in the post-deploy script, whose
    text names the lock's sha256 (Snakemake hashes the script into the environment's name, so an
    environment built from an older lock is never reused)."""
    import yaml

    from diffusion_classifier.artifacts import file_sha256

    env = yaml.safe_load((ROOT / "envs/diffusion-classifier.yaml").read_text())
    assert all(isinstance(entry, str) for entry in env["dependencies"]), "packages come from the lock, not the yaml"
    script = (ROOT / "envs/diffusion-classifier.post-deploy.sh").read_text()
    lock = file_sha256(ROOT / "requirements/lock.txt")
    assert f"# requirements/lock.txt sha256: {lock}\n" in script, "run requirements/update-lock.sh"
    assert "python -m pip install -r requirements/lock.txt\npython -m pip install --no-deps -e .\n" in script
