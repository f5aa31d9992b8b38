"""Writing a paper table twice: long cells (CSV) and the paper's wide layout (Markdown).

Tables that put the paper's value beside ours mix numbers with "n/a (reason)" cells. The
CSV keeps one row per cell with the number, the paper's number and the reason in separate
columns (full precision, easy to read back); the Markdown shows the paper's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from .tables import NOT_IN_PAPER, without_paper_columns, write_table

__all__ = ["write_cells_and_display", "side_by_side", "without_paper_columns", "NOT_IN_PAPER"]



def write_cells_and_display(cells: pd.DataFrame, display: pd.DataFrame, caption: str,
                            out_stem: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` from ``cells``, the Markdown and HTML from ``display`` with ``caption``.

    The paper's columns appear only where the paper reports the same experiment.
    """
    display, caption = without_paper_columns(display, caption)
    return write_table(cells, out_stem, caption, display)


def _number(value) -> str | None:
    return None if value is None or pd.isna(value) else f"{value:.1f}"


def side_by_side(cells: pd.DataFrame, by: str, columns: Sequence[str], lead: Callable[[pd.DataFrame], dict]
                 ) -> pd.DataFrame:
    """The paper's wide layout: one row per ``method_key``, ours and the paper's per column.

    Args:
        cells: Long cells with ``method_key``, ``by``, ``ours``, ``paper`` and ``note``.
        by: The cells' column naming the table column (``dataset``, ``column``).
        columns: Table columns, in order.
        lead: The leading fields of a method's row (``Method``, ...) from its cells.
    """
    rows = []
    for _, part in cells.groupby("method_key", sort=False):
        row = lead(part)
        part = part.set_index(by)
        for column in columns:
            cell = part.loc[column]
            row[column] = _number(cell["ours"]) or f"n/a ({cell['note']})"
            row[f"{column} (paper)"] = _number(cell["paper"]) or NOT_IN_PAPER
        rows.append(row)
    return pd.DataFrame(rows)
