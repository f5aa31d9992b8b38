"""Writing tables as Markdown and CSV, deterministically.

Tables carry only reproducible numbers (accuracies, counts, passes), so a rerun
regenerates them byte for byte; timings live in their own table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..artifacts import atomic_write_text, write_frame

__all__ = ["write_table", "to_markdown"]


def to_markdown(frame: pd.DataFrame, caption: str = "") -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    text = "\n".join([header, rule, *body]) + "\n"
    return (caption.strip() + "\n\n" + text) if caption else text


def _cell(value) -> str:
    if isinstance(value, float):
        return "n/a" if pd.isna(value) else f"{value:.2f}"
    return "n/a" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def write_table(frame: pd.DataFrame, stem: str | Path, caption: str = "",
                display: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write ``stem.csv`` (full precision) and ``stem.md`` (rounded, with caption).

    Args:
        frame: The table of ``stem.csv``.
        stem: Output path without suffix.
        caption: Text above the Markdown table.
        display: The table of ``stem.md`` when it differs from ``frame`` (a paper
            layout of the cells), else ``frame``.
    """
    stem = Path(stem)
    csv_path, md_path = stem.with_suffix(".csv"), stem.with_suffix(".md")
    write_frame(frame, csv_path, float_format="%.6g")
    atomic_write_text(md_path, to_markdown(frame if display is None else display, caption))
    return csv_path, md_path
