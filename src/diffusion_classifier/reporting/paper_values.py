"""The paper's reported numbers, kept once (``paper_values.yaml``) for every table.

Tables print the paper's value beside ours; they ask :func:`paper_value` for one cell
by ``table / row / column`` instead of copying numbers into their own code. The YAML
ships with the package and is read on first use, not at import time.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["PAPER_VALUES_FILE", "paper_tables", "paper_table", "paper_value", "paper_notes"]

PAPER_VALUES_FILE = "paper_values.yaml"


@lru_cache(maxsize=1)
def paper_tables() -> dict[str, Any]:
    """Every table of ``paper_values.yaml``: name -> {description, values}."""
    text = resources.files(__package__).joinpath(PAPER_VALUES_FILE).read_text()
    tables = yaml.safe_load(text)
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("values"), dict):
            raise ValueError(f"{PAPER_VALUES_FILE}: table {name!r} needs a 'values' mapping")
    return tables


def paper_table(table: str) -> dict[str, dict[str, float]]:
    """Row -> column -> value of one table; an unknown table lists the known ones."""
    tables = paper_tables()
    try:
        return tables[table]["values"]
    except KeyError:
        raise KeyError(f"no paper values for table {table!r}; known: {sorted(tables)}") from None


def paper_value(table: str, row: str, column: str) -> float | None:
    """The paper's value of one cell, or ``None`` when the paper reports no such cell.

    Args:
        table: Table key (``table1``, ``table2``, ...).
        row: Row key (a method or dataset name of this project).
        column: Column key (a dataset name or the paper's column header).

    Raises:
        KeyError: For an unknown table (a typo should not read as "not in the paper").
    """
    value = paper_table(table).get(row, {}).get(column)
    return None if value is None else float(value)


def paper_notes(table: str) -> dict[str, str]:
    """Column -> note on how our evaluation set relates to the paper's (``notes`` of a table)."""
    paper_table(table)  # an unknown table is an error, not "no notes"
    return dict(paper_tables()[table].get("notes") or {})
