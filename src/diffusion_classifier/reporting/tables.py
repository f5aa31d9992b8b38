"""Writing tables as CSV (the data), Markdown and HTML (for a reader), deterministically.

Tables carry only reproducible numbers (accuracies, counts, passes), so a rerun
regenerates them byte for byte; timings live in their own table.

The CSV keeps every column at full precision (an interval as its two bounds, a schedule
as its TrialList/KeepList). What a reader sees, the Markdown (``cat``, GitHub) and the
HTML (shown inline by the Snakemake report, which cannot show Markdown), is the same
:func:`readable` view of it: an interval as one cell, ``91.9 [87.1, 95.4]``, a schedule in
words, ``25 timesteps, then 100 for the best 5`` (Algorithm 2's TrialList / KeepList),
aligned columns (pandas' ``to_markdown``, i.e. tabulate).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ..artifacts import atomic_write_text, write_frame
from .catalog import TABLE_FILES

__all__ = ["write_table", "to_markdown", "to_html", "readable", "schedule_words", "without_paper_columns",
           "NOT_IN_PAPER", "NO_COUNTERPART"]



def schedule_words(evaluations: str, keep: str) -> str:
    """Algorithm 2's TrialList / KeepList (``"25/100"``, ``"5/1"``) in words.

    ``evaluations[s]`` is how many grid points the classes still in the race have seen
    after stage ``s``; ``keep[s]`` how many classes survive it (the last stage keeps one).
    """
    trials = [t for t in str(evaluations).split("/") if t]
    kept = [k for k in str(keep).split("/") if k]
    if not kept:  # not a TrialList/KeepList (a sequential row names its grid only)
        return f"{'/'.join(trials)} timesteps"
    words = [f"{trials[0]} timestep{'' if trials[0] == '1' else 's'}"]
    words += [f"then {n} for the best {k}" for n, k in zip(trials[1:], kept)]
    return ", ".join(words)


def _interval_columns(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(value, low, high)`` column triples: ``x`` with ``x_ci_low`` / ``x_ci_high``, or
    ``<prefix>accuracy`` with ``<prefix>ci_low`` / ``<prefix>ci_high``."""
    triples = []
    for low in frame.columns:
        if not isinstance(low, str) or not low.endswith("ci_low"):
            continue
        prefix = low[: -len("ci_low")]
        high = prefix + "ci_high"
        value = next((c for c in (prefix + "accuracy", prefix.rstrip("_")) if c in frame.columns), None)
        if high in frame.columns and value is not None:
            triples.append((value, low, high))
    return triples


def _interval(value, low, high) -> str:
    if pd.isna(value):
        return "n/a"
    return f"{value:.1f}" if pd.isna(low) or pd.isna(high) else f"{value:.1f} [{low:.1f}, {high:.1f}]"


def _cell(value) -> str:
    if isinstance(value, float):
        return "n/a" if pd.isna(value) else f"{value:.2f}"
    return "n/a" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The reader's view of a table: every cell a string, intervals and schedules as one cell.

    Column names keep their CSV spelling (a reader greps the CSV for them), underscores
    read as spaces.
    """
    out = frame.copy()
    for value, low, high in _interval_columns(out):
        out[value] = [_interval(v, lo, hi) for v, lo, hi in zip(out[value], out[low], out[high])]
        out = out.drop(columns=[low, high]).rename(columns={value: f"{value} [CI]"})
    if {"evaluations", "keep"} <= set(out.columns):
        words = [schedule_words(e, k) for e, k in zip(out["evaluations"], out["keep"])]
        at = list(out.columns).index("evaluations")
        out = out.drop(columns=["evaluations", "keep"])
        out.insert(at, "schedule (timesteps per class)", words)
        if "schedule" in out.columns:  # the study's own label of the same schedule
            out = out.drop(columns=["schedule"])
    out = out.map(_cell)
    out.columns = [str(c).replace("_", " ") for c in out.columns]
    return out


def _numeric(frame: pd.DataFrame) -> list[bool]:
    """Per column of ``frame``'s readable view: right-align it (numbers, intervals)."""
    shown = readable(frame)
    return [bool(shown[c].str.match(r"^-?[\d.]+( \[.*\])?$|^n/a$").all()) and not shown[c].eq("n/a").all()
            for c in shown.columns]


def to_markdown(frame: pd.DataFrame, caption: str = "") -> str:
    """A GitHub-flavoured Markdown table with aligned columns, below its caption."""
    shown = readable(frame)
    align = ["right" if n else "left" for n in _numeric(frame)]
    text = shown.to_markdown(index=False, tablefmt="github", disable_numparse=True, colalign=align) + "\n"
    return (caption.strip() + "\n\n" + text) if caption else text


def to_html(frame: pd.DataFrame, caption: str = "", title: str = "") -> str:
    """A self-contained HTML page of the table: what the Snakemake report shows inline."""
    shown = readable(frame)
    align = ["right" if n else "left" for n in _numeric(frame)]
    head = "".join(f'<th style="text-align:{a}">{html.escape(str(c))}</th>' for c, a in zip(shown.columns, align))
    body = "".join("<tr>" + "".join(f'<td style="text-align:{a}">{html.escape(v)}</td>' for v, a in zip(row, align))
                   + "</tr>\n" for row in shown.itertuples(index=False))
    table = f'<table class="table">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>'

    paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>\n" for p in caption.split("\n\n") if p.strip())
    style = ("body{font-family:sans-serif;font-size:14px;margin:1em}"
             "table{border-collapse:collapse}th,td{padding:2px 8px;border-bottom:1px solid #ddd;"
             "white-space:nowrap}th{background:#f4f4f4}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head>\n<body>\n{paragraphs}{table}\n</body></html>\n")


#: Display of a cell the paper does not report.
NOT_IN_PAPER = "—"

#: The caption's sentence when the paper reports none of a table's settings (said once,
#: not as a column of dashes).
NO_COUNTERPART = "The paper reports none of these settings, so no paper value is shown."


def _absent(value) -> bool:
    return value is None or value == "" or value == NOT_IN_PAPER or (not isinstance(value, str) and pd.isna(value))


def without_paper_columns(display: pd.DataFrame, caption: str, paper: tuple[str, ...] = ()
                          ) -> tuple[pd.DataFrame, str]:
    """Drop the paper's columns in which it reports nothing for these rows; say so once.

    The paper's value stands beside ours only where it is the same experiment; a
    ``<column> (paper)`` column (or one named in ``paper``) that is empty in every row
    leaves the reader's view, and the caption says why.
    """
    candidates = [c for c in display.columns if c in paper or str(c).endswith("(paper)")]
    empty = [c for c in candidates if display[c].map(_absent).all()]
    if not empty:
        return display, caption
    note = NO_COUNTERPART if len(empty) == len(candidates) else (
        "The paper reports no " + ", ".join(str(c).removesuffix(" (paper)") for c in empty) + " value.")
    return display.drop(columns=empty), f"{caption.strip()}\n\n{note}" if caption.strip() else note


def write_table(frame: pd.DataFrame, stem: str | Path, caption: str = "",
                display: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write ``stem.csv`` (full precision), ``stem.md`` and ``stem.html`` (readable, with caption).

    Args:
        frame: The table of ``stem.csv``.
        stem: Output path without suffix.
        caption: Text above the table (at most a few sentences).
        display: The table a reader sees when it differs from ``frame`` (a paper layout
            of the cells, a headline of a long study), else ``frame``.

    Returns:
        The CSV and Markdown paths (the HTML lies beside them).
    """
    stem = Path(stem)
    md_path, csv_path, html_path = (stem.with_suffix(suffix) for suffix in TABLE_FILES)
    shown = frame if display is None else display
    write_frame(frame, csv_path, float_format="%.6g")
    atomic_write_text(md_path, to_markdown(shown, caption))
    atomic_write_text(html_path, to_html(shown, caption, stem.name))
    return csv_path, md_path
