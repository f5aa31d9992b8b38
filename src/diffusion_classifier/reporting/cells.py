"""Writing a paper table twice: long cells (CSV) and the paper's wide layout (Markdown).

Tables that put the paper's value beside ours mix numbers with "n/a (reason)" cells. The
CSV keeps one row per cell with the number, the paper's number and the reason in separate
columns (full precision, easy to read back); the Markdown shows the paper's layout.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..artifacts import atomic_path, atomic_write_text
from .tables import to_markdown

__all__ = ["write_cells_and_display"]


def write_cells_and_display(cells: pd.DataFrame, display: pd.DataFrame, caption: str,
                            out_stem: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` from ``cells`` and ``<stem>.md`` from ``display`` with ``caption``."""
    out_stem = Path(out_stem)
    csv_path, md_path = out_stem.with_suffix(".csv"), out_stem.with_suffix(".md")
    with atomic_path(csv_path) as tmp:
        cells.to_csv(tmp, index=False, float_format="%.6g")
    atomic_write_text(md_path, to_markdown(display, caption))
    return csv_path, md_path
