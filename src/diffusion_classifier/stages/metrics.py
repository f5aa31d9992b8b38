"""Stage ``make_metrics``: the tables' numbers in two JSON files (DVC metrics): headline and detail."""

from __future__ import annotations

from pathlib import Path

from ._registry import stage

__all__ = ["make_metrics"]


@stage("make-metrics")
def make_metrics(table_csvs: list[str | Path], output: str | Path, detail: str | Path | None = None) -> Path:
    """Write ``output``, the headline numbers (``dvc metrics show``), and ``detail``, every number.

    Both nest table -> row -> column -> value (:mod:`..reporting.metrics`); the headline is
    the few dozen numbers a reader compares across commits, the detail every table's numbers.

    Args:
        table_csvs: The tables' CSV files (the catalog's metric tables).
        output: The headline metrics file (results/metrics.json).
        detail: The file of every number (results/metrics_detail.json); none: not written.
    """
    from ..artifacts import write_json
    from ..reporting.metrics import collect_metrics

    write_json(output, collect_metrics(table_csvs, headline=True))
    if detail is not None:
        write_json(detail, collect_metrics(table_csvs))
    return Path(output)
