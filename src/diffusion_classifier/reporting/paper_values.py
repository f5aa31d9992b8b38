"""The paper's reported numbers, beside ours: read from each table's catalog entry.

Tables print the paper's value beside ours; they ask :func:`paper_value` for one cell
by ``table / row / column`` instead of copying numbers into their own code. The numbers
live once, in the ``values`` of the table's entry of ``catalog.yaml`` (:mod:`.catalog`).
"""

from __future__ import annotations

from .catalog import artifact, artifacts

__all__ = ["paper_table", "paper_value", "paper_notes"]


def paper_table(table: str) -> dict[str, dict[str, float]]:
    """Row -> column -> value of one table; an unknown table lists the known ones."""
    if table not in artifacts():
        raise KeyError(f"no paper values for table {table!r}; known: {artifacts().names()}")
    return artifact(table).values


def paper_value(table: str, row: str, column: str) -> float | None:
    """The paper's value of one cell, or ``None`` when the paper reports no such cell.

    Args:
        table: Catalog name (``table1``, ``table2``, ...).
        row: Row key (a method or dataset name of this project).
        column: Column key (a dataset name or the paper's column header).

    Raises:
        KeyError: For an unknown table (a typo should not read as "not in the paper").
    """
    value = paper_table(table).get(row, {}).get(column)
    return None if value is None else float(value)


def paper_notes(table: str) -> dict[str, str]:
    """Column -> note on how our evaluation set relates to the paper's (``notes`` of the entry)."""
    paper_table(table)  # an unknown table is an error, not "no notes"
    return dict(artifact(table).notes)
