"""Table 2: the share of each test set passing SD 2.0's LAION filters, the paper's beside ours.

The shares come from the audit library (``audit.table2`` over the per-image scores);
which filters could be computed, and why not, comes from each dataset's audit summary
(``filters`` in ``{RESULTS}/audit/<dataset>.json``). A share that could not be computed
reads "n/a (<reason>)"; undecodable images are counted in their own column.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..audit import EMBEDDING_FILTERS, TABLE2_COLUMNS, table2
from .paper_values import paper_value
from .tables import NOT_IN_PAPER

__all__ = ["table2_cells", "table2_display", "table2_caption", "column_filters"]

_PASS_TO_FILTER = {"passes_resolution": "resolution",
                   **{f.pass_column: name for name, f in EMBEDDING_FILTERS.items()}}


def column_filters(column: str) -> tuple[str, ...]:
    """Filter names (``resolution``, ``aesthetic``, ``nsfw``) a Table 2 column combines."""
    return tuple(_PASS_TO_FILTER[c] for c in TABLE2_COLUMNS[column])


def _reason(filters: Mapping[str, dict], column: str) -> str:
    reasons = [filters.get(name, {}).get("reason") for name in column_filters(column)
               if not filters.get(name, {}).get("available", False)]
    reasons = list(dict.fromkeys(r for r in reasons if r))
    return "; ".join(reasons) if reasons else "no image could be scored"


def table2_cells(scores: Mapping[str, pd.DataFrame], audits: Mapping[str, dict]) -> pd.DataFrame:
    """One row per dataset x column: our share, the paper's, counts and why a share is missing.

    Args:
        scores: Dataset -> per-image audit scores (``audit.score_manifest`` output).
        audits: Dataset -> audit summary (``filters`` with ``available``/``reason``).
    """
    shares = table2(scores)
    records = []
    for dataset, row in shares.iterrows():
        filters = audits[dataset]["filters"]
        for column in TABLE2_COLUMNS:
            value = row[column]
            records.append({
                "dataset": dataset, "column": column, "ours": None if pd.isna(value) else float(value),
                "paper": paper_value("table2", dataset, column),
                "note": _reason(filters, column) if pd.isna(value) else "",
                "num_images": int(row["n"]), "decode_errors": int(row["decode_errors"]),
            })
    return pd.DataFrame.from_records(records)


def table2_display(cells: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout (datasets x filters), ours and the paper's side by side."""
    rows = []
    for dataset, part in cells.groupby("dataset", sort=False):
        row = {"Dataset": dataset}
        for _, cell in part.iterrows():
            ours = cell["ours"]
            row[cell["column"]] = f"n/a ({cell['note']})" if ours is None or pd.isna(ours) else f"{ours:.1f}"
            paper = cell["paper"]
            row[f"{cell['column']} (paper)"] = NOT_IN_PAPER if paper is None or pd.isna(paper) else f"{paper:.1f}"
        row["images"] = str(part["num_images"].iloc[0])
        row["undecodable"] = str(part["decode_errors"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def table2_caption(audits: Mapping[str, dict]) -> str:
    """What the table shows and, per filter, where it was and was not computed."""
    lines = ["Share (%) of each audited split that would pass Stable Diffusion 2.0's LAION filters "
             "(R: both original sides >= min_side; A: aesthetic >= threshold; S: punsafe < threshold), "
             "ours beside the paper's Table 2 (— = dataset not in the paper). Undecodable images are "
             "counted, listed in the audit JSON, and left out only of the shares that need pixels."]
    for name in ("resolution", *EMBEDDING_FILTERS):
        have = [d for d, a in audits.items() if a["filters"].get(name, {}).get("available")]
        missing = {d: a["filters"].get(name, {}).get("reason", "not computed") for d, a in audits.items()
                   if d not in have}
        text = f"{name}: computed for {', '.join(have) if have else 'no dataset'}"
        if missing:
            text += "; n/a for " + ", ".join(f"{d} ({r})" for d, r in missing.items())
        lines.append(text + ".")
    thresholds = {json_key: value for a in audits.values() for json_key, value in a.get("config", {}).items()
                  if json_key != "batch_size"}
    if thresholds:
        lines.append("Thresholds: " + ", ".join(f"{k}={v}" for k, v in sorted(thresholds.items())) + ".")
    return "\n\n".join(lines)
