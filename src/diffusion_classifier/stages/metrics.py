"""Stage ``make_metrics``: the headline numbers of every table in one JSON file (DVC metrics)."""

from __future__ import annotations

from pathlib import Path

from ._registry import stage

__all__ = ["make_metrics"]


@stage("make-metrics")
def make_metrics(table_csvs: list[str | Path], output: str | Path) -> Path:
    """Write ``output``: table -> row -> headline column -> value (``dvc metrics diff`` reads it)."""
    from ..artifacts import write_json
    from ..reporting.metrics import collect_metrics

    write_json(output, collect_metrics(table_csvs))
    return Path(output)
