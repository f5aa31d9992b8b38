"""Every headline number of the tables in one JSON file: what ``dvc metrics diff`` compares.

Each table that carries headline numbers is registered here with the columns that
name a row and the columns that are its headline numbers (accuracies, scores,
effective robustness, passes per image; never intervals or measured times). The
metrics file nests ``table -> row key ("dataset/model/strategy") -> column -> value``,
so a diff between two commits reads as "which number of which table moved".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._registry import Registry

__all__ = ["MetricTable", "METRIC_TABLES", "UNMEASURED_TABLES", "table_metrics", "collect_metrics"]


@dataclass(frozen=True)
class MetricTable:
    """Which columns of a table name a row, and which are its headline numbers."""

    key: tuple[str, ...]
    values: tuple[str, ...]


METRIC_TABLES: Registry[MetricTable] = Registry("metrics table")
# Tables without headline numbers: measured times (they vary from run to run) and provenance.
UNMEASURED_TABLES = frozenset({"runtime", "provenance"})

for _name, _key, _values in (
    ("classification", ("dataset", "model", "strategy"), ("accuracy", "mean_per_class", "passes_per_image")),
    ("zeroshot", ("dataset", "model", "strategy"), ("accuracy", "passes_per_image")),
    ("compositional", ("dataset", "model", "strategy", "subset"), ("text", "image", "group", "passes_per_image")),
    ("table1", ("method_key", "dataset", "metric"), ("ours",)),
    ("table2", ("dataset", "column"), ("ours",)),
    ("table3", ("method_key", "column"), ("ours",)),
    ("table4", ("shift", "model"), ("id_accuracy", "ood_accuracy", "effective_robustness")),
    ("table5_objectives", ("dataset", "model", "strategy", "objective"), ("accuracy",)),
    ("schedule_study", ("loss", "schedule"), ("accuracy", "passes_per_image")),
):
    METRIC_TABLES.add(_name, MetricTable(_key, _values))


def _number(value):
    """A JSON number, or ``None`` for a missing cell (a table's n/a)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value) if float(value).is_integer() else float(value)


def table_metrics(name: str, frame: pd.DataFrame) -> dict:
    """``row key -> column -> value`` of one table's headline numbers."""
    spec = METRIC_TABLES.get(name)
    missing = [c for c in (*spec.key, *spec.values) if c not in frame.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks columns {missing} that reporting/metrics.py reads; "
                         f"its columns: {list(frame.columns)}")
    out: dict = {}
    for row in frame.itertuples(index=False):
        fields = row._asdict()
        key = "/".join(str(fields[c]) for c in spec.key)
        if key in out:
            raise ValueError(f"table {name!r} has two rows keyed {key!r}: add the distinguishing column "
                             "to its key in reporting/metrics.py")
        out[key] = {c: _number(fields[c]) for c in spec.values}
    return out


def collect_metrics(table_csvs: list[str | Path]) -> dict:
    """The metrics of every table CSV given (named by file stem), in name order.

    A table not registered here is an error rather than silently left out of the
    metrics; measured-time and provenance tables (``runtime``, ``provenance``) are skipped.
    """
    metrics = {}
    for path in sorted(map(Path, table_csvs), key=lambda p: p.stem):
        if path.stem in UNMEASURED_TABLES:
            continue
        if path.stem not in METRIC_TABLES:
            raise ValueError(f"{path}: table {path.stem!r} has no entry in reporting/metrics.py: register its key "
                             f"and headline columns (known: {METRIC_TABLES.names()})")
        metrics[path.stem] = table_metrics(path.stem, pd.read_csv(path, keep_default_na=True))
    return metrics
