"""``@stage``: register a stage function as a subcommand of the console script.

A stage's signature *is* its command line: the CLI (:mod:`diffusion_classifier.cli`)
builds one option per parameter from the type hints, its help from the docstring's
first paragraph and ``Args:`` entries, so an argument is written once, in the stage.
Registering a stage imports nothing heavy: stage modules import torch (and the
packages that load it) inside the functions that need it, so ``--help`` and the
torch-free jobs (tables, figures, metrics, fits) start in well under a second.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from typing import Callable

from .._registry import Registry

__all__ = ["Stage", "STAGES", "stage", "load_stages", "docstring_args"]


@dataclass(frozen=True)
class Stage:
    """One subcommand: ``name`` runs ``function``; ``threads`` adds ``--threads N`` (torch threads)."""

    name: str
    function: Callable
    threads: bool = False

    @property
    def help(self) -> str:
        """The docstring's first paragraph."""
        doc = inspect.getdoc(self.function) or ""
        return " ".join(doc.split("\n\n")[0].split())

    @property
    def param_help(self) -> dict[str, str]:
        return docstring_args(inspect.getdoc(self.function) or "")


STAGES: Registry[Stage] = Registry("stage")


def stage(name: str, *, threads: bool = False) -> Callable[[Callable], Callable]:
    """Register the decorated function as subcommand ``name`` (the rule's name, dashed).

    ``threads=True``: the subcommand takes ``--threads N`` (the rule's ``{threads}``),
    applied to torch before the stage runs, so a job never uses more cores than
    Snakemake gave it.
    """

    def decorator(function: Callable) -> Callable:
        STAGES.add(name, Stage(name, function, threads))
        return function

    return decorator


def load_stages() -> Registry[Stage]:
    """Import every stage module (registering its stages) and return the registry."""
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__package__}.{module.name}")
    return STAGES


_ENTRY = re.compile(r"^(\w+(?:\s*,\s*\w+)*)\s*(?:\([^)]*\))?:\s*(.*)$")


def docstring_args(doc: str) -> dict[str, str]:
    """``name -> text`` of a Google-style ``Args:`` section (``a, b: text`` documents both)."""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    except StopIteration:
        return {}
    entries: dict[str, list[str]] = {}
    current: list[str] = []
    indent = None
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break  # the next section ("Returns:", ...)
        match = _ENTRY.match(line.strip()) if width == indent else None
        if match:
            current = [match.group(2)]
            for name in match.group(1).split(","):
                entries[name.strip()] = current
        else:
            current.append(line.strip())
    return {name: " ".join(words) for name, words in entries.items()}
