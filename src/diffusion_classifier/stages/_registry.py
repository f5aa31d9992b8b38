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

__all__ = ["Stage", "STAGES", "COMMON_ARGS", "stage", "load_stages", "docstring_args", "plain"]

#: The help of a parameter that means the same in every stage (the flag vocabulary of
#: :mod:`diffusion_classifier.cli`); a stage's own ``Args:`` entry takes precedence.
COMMON_ARGS = {
    "dataset_dir": "Prepared dataset directory (manifest format, written by download-dataset).",
    "real_dataset_dir": "Prepared dataset directory of the real images.",
    "train_dataset_dir": "Prepared dataset directory of the training images.",
    "dataset_name": "Dataset name (a key of the config's datasets).",
    "checkpoint": "Model directory or hub id.",
    "model_name": "Model name (a key of the config's models).",
    "prompts_dir": "Prompt table directory (written by prepare-prompts).",
    "prompt_dirs": "Prompt table directories, one per summary.",
    "features_dir": "Feature maps directory (written by extract-sd-features).",
    "train_features_dir": "Feature maps directory of the training split.",
    "synthetic_dir": "Generated images directory (written by merge-synthetic).",
    "shard_dirs": "Shard directories of one run.",
    "summary_paths": "Summary JSON files.",
    "table_csvs": "Table CSV files.",
    "split": "Dataset split.",
    "shard": "Index of this shard (0-based).",
    "num_shards": "Number of shards the split is divided into.",
    "names": "Config names of this run (model, dataset, ...), recorded in the outputs.",
    "output": "Output file.",
    "output_dir": "Output directory.",
    "output_md": "Output table, Markdown.",
    "output_csv": "Output table or data, CSV.",
    "output_png": "Output figure, PNG.",
    "output_json": "Output record, JSON.",
    "output_summary": "Output summary, JSON.",
    "output_predictions": "Output per-image predictions, Parquet.",
    "output_examples": "Output per-example outcomes, Parquet.",
    "output_checkpoint": "Output model checkpoint directory.",
    "group_by": "Example columns the scores are grouped by.",
}


@dataclass(frozen=True)
class Stage:
    """One subcommand: ``name`` runs ``function``; ``threads`` adds ``--threads N`` (torch threads);
    ``user`` marks a command a user runs by hand (listed in ``--help``; the workflow's are hidden)."""

    name: str
    function: Callable
    threads: bool = False

    user: bool = False

    @property
    def help(self) -> str:
        """The docstring's first paragraph, as plain text."""
        doc = inspect.getdoc(self.function) or ""
        return plain(" ".join(doc.split("\n\n")[0].split()))

    @property
    def param_help(self) -> dict[str, str]:
        """Each parameter's help, as plain text: its ``Args:`` entry, else :data:`COMMON_ARGS`'."""
        own = docstring_args(inspect.getdoc(self.function) or "")
        names = inspect.signature(self.function).parameters
        return {name: plain(own.get(name) or COMMON_ARGS.get(name, "")) for name in names}


STAGES: Registry[Stage] = Registry("stage")


def stage(name: str, *, threads: bool = False, user: bool = False) -> Callable[[Callable], Callable]:
    """Register the decorated function as subcommand ``name`` (the rule's name, dashed).

    ``threads=True``: the subcommand takes ``--threads N`` (the rule's ``{threads}``),
    applied to torch before the stage runs, so a job never uses more cores than
    Snakemake gave it. ``user=True``: a command users run by hand, shown in ``--help``.
    """

    def decorator(function: Callable) -> Callable:
        STAGES.add(name, Stage(name, function, threads, user))
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


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(text: str) -> str:
    """Docstring text without reStructuredText markup, for ``--help``: ````x```` -> ``x``,
    ``:func:`~a.b.c``` -> ``c``."""
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1] if m.group(0).count("~") else m.group(1), text)
    return text.replace("``", "")
