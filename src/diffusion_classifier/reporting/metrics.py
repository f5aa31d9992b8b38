"""Every headline number of the tables in one JSON file: what ``dvc metrics diff`` compares.

Which tables carry headline numbers, and which of their columns name a row and which
are the numbers (accuracies, scores, effective robustness, passes per image; never
intervals or measured times), is the ``metrics`` of each table's catalog entry
(``catalog.yaml``). The metrics file nests ``table -> row key ("dataset/model/strategy")
-> column -> value``, so a diff between two commits reads as "which number of which
table moved".
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .._registry import Registry
from .catalog import MetricTable, artifact, artifacts

__all__ = ["MetricTable", "METRIC_TABLES", "UNMEASURED_TABLES", "table_metrics", "collect_metrics"]

# Table name (its CSV's stem) -> row key and headline columns, from the catalog.
METRIC_TABLES: Registry[MetricTable] = Registry("metrics table")
for _name in artifacts():
    if artifact(_name).metrics is not None:
        METRIC_TABLES.add(_name, artifact(_name).metrics)
# Catalog tables without headline numbers: measured times (they vary from run to run) and provenance.
UNMEASURED_TABLES = frozenset(n for n in artifacts() if artifact(n).metrics is None and artifact(n).files[0].endswith(".md"))


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
        raise ValueError(f"table {name!r} lacks columns {missing} that its catalog entry's metrics name; "
                         f"its columns: {list(frame.columns)}")
    out: dict = {}
    for row in frame.itertuples(index=False):
        fields = row._asdict()
        key = "/".join(str(fields[c]) for c in spec.key)
        if key in out:
            raise ValueError(f"table {name!r} has two rows keyed {key!r}: add the distinguishing column "
                             "to its metrics key in reporting/catalog.yaml")
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
            raise ValueError(f"{path}: table {path.stem!r} has no entry with metrics in reporting/catalog.yaml: "
                             f"give its entry a metrics key and headline columns (known: {METRIC_TABLES.names()})")
        metrics[path.stem] = table_metrics(path.stem, pd.read_csv(path, keep_default_na=True))
    return metrics
