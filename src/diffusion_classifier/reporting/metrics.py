"""The tables' numbers in two JSON files: what ``dvc metrics show`` / ``diff`` compare.

Which tables carry numbers, which of their columns name a row and which are the numbers
(accuracies, scores, effective robustness, passes per image; never intervals or measured
times), is the ``metrics`` of each table's catalog entry (``catalog.yaml``). Both files nest
``table -> row key ("dataset/model/strategy") -> column -> value``, so a diff between two
commits reads as "which number of which table moved":

- the headline, ``metrics.json`` (the catalog's ``headline`` columns of the rows ``where``
  picks): a few dozen numbers a reader compares across commits, the file ``dvc metrics
  show`` prints;
- the detail, ``metrics_detail.json``: every ``values`` column of every row
  (``dvc metrics show results/metrics_detail.json``).
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


def table_metrics(name: str, frame: pd.DataFrame, headline: bool = False) -> dict:
    """``row key -> column -> value`` of one table's numbers: every ``values`` column, or with
    ``headline`` its headline columns of the rows its ``where`` picks (empty: none)."""
    spec = METRIC_TABLES.get(name)
    missing = [c for c in (*spec.key, *spec.values, *spec.headline, *spec.where) if c not in frame.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks columns {missing} that its catalog entry's metrics name; "
                         f"its columns: {list(frame.columns)}")
    values = spec.headline if headline else spec.values
    if headline:
        for column, allowed in spec.where.items():
            frame = frame[frame[column].astype(str).isin(allowed)]
    out: dict = {}
    for row in frame.itertuples(index=False) if values else ():
        fields = row._asdict()
        key = "/".join(str(fields[c]) for c in spec.key)
        if key in out:
            raise ValueError(f"table {name!r} has two rows keyed {key!r}: add the distinguishing column "
                             "to its metrics key in reporting/catalog.yaml")
        out[key] = {c: _number(fields[c]) for c in values}
    return out


def collect_metrics(table_csvs: list[str | Path], headline: bool = False) -> dict:
    """The metrics of every table CSV given (named by file stem), in name order: the detail,
    or with ``headline`` the headline (a table without headline columns left out).

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
        numbers = table_metrics(path.stem, pd.read_csv(path, keep_default_na=True), headline)
        if numbers or not headline:
            metrics[path.stem] = numbers
    return metrics
