"""The jobs that run no model import no torch (``import torch`` costs 3-4 s of CPU a job).

A stage module imports nothing heavy at the top (tests/test_cli.py); what a job imports is
what its stage function imports when it runs. For each subcommand below, a fresh
interpreter imports the stage's module and every module named by an import statement in
the stage function, or in a function of the package it calls by name (followed through
the package's own functions), and must not have torch afterwards.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import textwrap

import pytest

from diffusion_classifier.stages import load_stages

#: Subcommands that must stay torch-free: tables, figures, reports, summaries, fits, metrics,
#: provenance, downloads and aggregations of stored scores.
TORCH_FREE = (
    "aggregate-pairs",
    "aggregate-scores",
    "download-dataset",
    "fetch-prompt-table",
    "figure-pair-examples",
    "figures-timesteps",
    "fit-calibration",
    "fit-effective-robustness",
    "make-compositional-table",
    "make-metrics",
    "make-provenance-table",
    "make-robustness-table",
    "make-runtime-table",
    "make-table1",
    "make-table2",
    "make-table3",
    "make-tables",
    "make-zeroshot-table",
    "merge-synthetic",
    "plot-effective-robustness",
    "schedule-study",
    "table-objectives",
)

PACKAGE = "diffusion_classifier"


def _resolve(node: ast.ImportFrom, package: str) -> list[str]:
    """The modules an ``import from`` statement loads (the module, or its submodules by name)."""
    base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
        else node.module
    names = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        try:
            names.append(sub if importlib.util.find_spec(sub) is not None else base)
        except (ImportError, ValueError):
            names.append(base)
    return names


def imported_modules(function, seen: set | None = None) -> set[str]:
    """Modules ``function`` imports when it runs, following the package's functions it calls by name
    (defined in its module, or imported by the function itself)."""
    seen = set() if seen is None else seen
    if function in seen or not getattr(function, "__module__", "").startswith(PACKAGE):
        return set()
    seen.add(function)
    module = inspect.getmodule(function)
    modules = {module.__name__}
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    local: dict[str, str] = {}  # a name the function imports -> the module it comes from
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            modules.update(_resolve(node, module.__package__))
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), module.__package__) \
                if node.level else node.module
            local.update({alias.asname or alias.name: base for alias in node.names})
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            callee = getattr(importlib.import_module(local[name]), name, None) if name in local \
                else getattr(module, name, None)
            if inspect.isfunction(callee):
                modules |= imported_modules(callee, seen)
    return modules


def _imports_torch(modules: set[str]) -> bool:
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in sorted(modules)) \
        + "print('torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip() == "True"


@pytest.mark.parametrize("name", TORCH_FREE)
def test_the_job_imports_no_torch(name):
    modules = imported_modules(load_stages().get(name).function)
    assert not _imports_torch(modules), f"{name} imports torch through one of {sorted(modules)}"


def test_the_list_names_registered_subcommands():
    assert set(TORCH_FREE) <= set(load_stages().names())


def test_the_analysis_sees_a_job_that_runs_a_model():
    """The check can fail: scoring a shard loads the model, so its imports include torch."""
    assert _imports_torch(imported_modules(load_stages().get("score-shard").function))
