"""Table 2: the share of each test set that SD 2.0's LAION filters would keep.

Each column of the paper's Table 2 is a conjunction of per-image pass columns, declared
once in :data:`TABLE2_COLUMNS`. A share is the percentage of images passing all of its
filters among the images for which all of them were computed: resolution is known for
every manifest row, the embedding filters only for decoded images (decode failures are
counted separately, never silently dropped). A filter computed for no image gives NaN,
shown as "n/a".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Paper Table 2 header -> per-image pass columns that must all be true.
TABLE2_COLUMNS: dict[str, tuple[str, ...]] = {
    "Resolution": ("passes_resolution",),
    "Aesthetic": ("passes_aesthetic",),
    "SFW": ("passes_nsfw",),
    "A+S": ("passes_aesthetic", "passes_nsfw"),
    "R+A+S": ("passes_resolution", "passes_aesthetic", "passes_nsfw"),
}

COUNT_COLUMNS: tuple[str, ...] = ("n", "decode_errors")

NOT_AVAILABLE = "n/a"


def pass_share(scores: pd.DataFrame, columns: tuple[str, ...]) -> float:
    """Percentage of images passing every filter in ``columns``.

    Args:
        scores: Per-image table with nullable boolean pass columns.
        columns: Pass columns combined with AND.

    Returns:
        Percentage in [0, 100] over rows where all columns are defined, or NaN if none is.
    """
    decisions = scores[list(columns)].astype("boolean")
    defined = decisions.notna().all(axis=1)
    if not defined.any():
        return float("nan")
    kept = decisions[defined].astype(bool).all(axis=1)
    return 100.0 * float(kept.mean())


def summarize_scores(scores: pd.DataFrame) -> dict[str, float | int]:
    """One Table 2 row: shares for every column plus image and decode-failure counts.

    Args:
        scores: Output of :func:`diffusion_classifier.audit.scoring.score_manifest`.

    Returns:
        Table 2 header -> percentage (NaN = n/a), plus ``n`` and ``decode_errors``.
    """
    row: dict[str, float | int] = {
        header: pass_share(scores, columns) for header, columns in TABLE2_COLUMNS.items()
    }
    row["n"] = len(scores)
    row["decode_errors"] = int((scores["decode_error"].astype(str) != "").sum())
    return row


def table2(scores_by_dataset: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 2 over datasets, numeric (NaN where a filter was not computed).

    Args:
        scores_by_dataset: Dataset name -> per-image score table.

    Returns:
        One row per dataset (index ``dataset``), columns :data:`TABLE2_COLUMNS` then
        :data:`COUNT_COLUMNS`.
    """
    table = pd.DataFrame(
        [summarize_scores(scores) for scores in scores_by_dataset.values()],
        index=pd.Index(list(scores_by_dataset), name="dataset"),
        columns=[*TABLE2_COLUMNS, *COUNT_COLUMNS],
    )
    return table.astype({column: "int64" for column in COUNT_COLUMNS})


def format_table2(table: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """Render Table 2 as strings, percentages rounded as in the paper, NaN as "n/a".

    Args:
        table: Output of :func:`table2`.
        decimals: Digits after the decimal point.

    Returns:
        A string table with the same index and columns.
    """
    shown = table.astype(object).copy()
    for column in TABLE2_COLUMNS:
        shown[column] = [
            NOT_AVAILABLE if np.isnan(value) else f"{value:.{decimals}f}" for value in table[column]
        ]
    for column in COUNT_COLUMNS:
        shown[column] = [str(int(value)) for value in table[column]]
    return shown
