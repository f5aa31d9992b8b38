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
