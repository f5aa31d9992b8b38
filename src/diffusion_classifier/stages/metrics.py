"""Stage ``make_metrics``: the headline numbers of every table in one JSON file (DVC metrics)."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import write_json
from ..reporting.metrics import collect_metrics

__all__ = ["make_metrics"]


def make_metrics(table_csvs: list[str | Path], out: str | Path) -> Path:
    """Write ``out``: table -> row -> headline column -> value (``dvc metrics diff`` reads it)."""
    write_json(out, collect_metrics(table_csvs))
    return Path(out)
