"""Table 3 of the paper: Winoground text score by swap type, ours beside the paper's.

Rows: random chance, the CLIP baselines (``clip_winoground`` summaries) and the
Diffusion Classifier (the ``aggregate_pairs`` summary of the Winoground compositional
run). Columns: the collapsed tags Object, Relation, Both and the score over every
example, which the paper calls "Average". The paper reports the text score only
(Sec. 6.2: each image must prefer its own caption); image and group scores stay in
the compositional table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..compositional import CHANCE
from .cells import side_by_side
from .paper_values import paper_value

__all__ = ["TABLE3_COLUMNS", "table3_cells", "table3_display", "TABLE3_CAPTION"]

#: Column name -> the subset behind it (``All`` = every example, the paper's "Average").
TABLE3_COLUMNS = {"Object": "Object", "Relation": "Relation", "Both": "Both", "Average": "All"}

TABLE3_CAPTION = (
    "Winoground text score (%) by swap type (paper Table 3): an example counts when each of its two "
    "images prefers its own caption. Average = over all examples. Ours beside the paper's; the Diffusion "
    "Classifier's and the CLIP rows' 99.5% Clopper-Pearson intervals in the CSV."
)


def _subset_scores(summary: dict) -> dict[str, dict]:
    """Tag -> text score (%), interval and count from a summary's ``subsets``
    (:func:`..compositional.summarise_examples`, grouped by ``collapsed_tag``)."""
    out = {}
    for subset in summary["subsets"]:
        name = subset["subset"]
        tag = "All" if name == "all" else name.split("=", 1)[1] if name.startswith("collapsed_tag=") else None
        if tag is not None:
            out[tag] = {"ours": 100 * subset["text"], "ci_low": 100 * subset["text_ci_low"],
                        "ci_high": 100 * subset["text_ci_high"], "examples": subset["examples"]}
    return out


def _clip_scores(summary: dict) -> tuple[dict[str, dict], str | None]:
    """Tag -> text score from a ``clip_winoground`` summary, or the reason it has none."""
    if summary.get("subsets") is None:
        return {}, summary.get("reason") or summary.get("status") or "not scored"
    return _subset_scores(summary), None


def table3_cells(diffusion_summary: str | Path, clip_summaries: dict[str, str | Path]) -> pd.DataFrame:
    """One row per (method, column): ours, interval, examples, the paper's value, a note.

    Args:
        diffusion_summary: ``aggregate_pairs`` summary of the Winoground run (grouped by
            ``collapsed_tag``).
        clip_summaries: CLIP model key (``baselines.clip_models``, also the row key of the
            paper's values) -> its ``clip_winoground`` summary.

    Raises:
        ValueError: the diffusion run was not grouped by ``collapsed_tag``.
    """
    diffusion = json.loads(Path(diffusion_summary).read_text())
    scores = _subset_scores(diffusion)
    missing = [c for c, tag in TABLE3_COLUMNS.items() if tag not in scores]
    if missing:
        raise ValueError(f"{diffusion_summary} has no text score for {missing}: the compositional run must be "
                         "grouped by collapsed_tag (compositional[].group_by: [collapsed_tag])")
    rows = [("random_chance", "Random chance", {tag: {"ours": 100 * CHANCE["text"]} for tag in TABLE3_COLUMNS.values()}, None)]
    for key, path in clip_summaries.items():
        summary = json.loads(Path(path).read_text())
        clip, reason = _clip_scores(summary)
        rows.append((key, summary.get("label", key), clip, reason))
    rows.append(("diffusion_classifier", "Diffusion Classifier (ours)", scores, None))
    records = []
    for key, label, values, reason in rows:
        for column, tag in TABLE3_COLUMNS.items():
            cell = values.get(tag, {})
            records.append({"method_key": key, "method": label, "column": column, "ours": cell.get("ours"),
                            "ci_low": cell.get("ci_low"), "ci_high": cell.get("ci_high"),
                            "examples": cell.get("examples"), "paper": paper_value("table3", key, column),
                            "note": reason if cell.get("ours") is None else None})
    return pd.DataFrame.from_records(records)


def table3_display(cells: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout (methods x swap types), ours and the paper's side by side."""
    return side_by_side(cells, "column", list(TABLE3_COLUMNS), lambda part: {"Method": part["method"].iloc[0]})
