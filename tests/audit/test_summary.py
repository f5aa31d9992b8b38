"""Table 2 shares on a hand-built score table, including n/a and decode failures."""

from __future__ import annotations

import math

import pandas as pd

from diffusion_classifier.audit import format_table2, summarize_scores, table2


def _scores() -> pd.DataFrame:
    # 8 images; the last one failed to decode (A and S undefined there).
    return pd.DataFrame(
        {
            "image_id": [f"i{k}" for k in range(8)],
            "passes_resolution": [True, True, False, False, True, False, True, True],
            "passes_aesthetic": pd.array([True, False, True, True, True, False, True, pd.NA], dtype="boolean"),
            "passes_nsfw": pd.array([True, True, True, False, True, True, False, pd.NA], dtype="boolean"),
            "decode_error": ["", "", "", "", "", "", "", "OSError: broken"],
        }
    )


def test_shares_by_hand() -> None:
    row = summarize_scores(_scores())
    assert row["Resolution"] == 100 * 5 / 8  # resolution is known for all 8 rows
    assert math.isclose(row["Aesthetic"], 100 * 5 / 7)  # 7 decoded rows
    assert math.isclose(row["SFW"], 100 * 5 / 7)
    assert math.isclose(row["A+S"], 100 * 3 / 7)  # rows 0, 2, 4
    assert math.isclose(row["R+A+S"], 100 * 2 / 7)  # rows 0, 4
    assert (row["n"], row["decode_errors"]) == (8, 1)


def test_uncomputed_filters_are_na() -> None:
    scores = _scores()
    scores["passes_nsfw"] = pd.array([pd.NA] * 8, dtype="boolean")
    row = summarize_scores(scores)
    assert math.isclose(row["Aesthetic"], 100 * 5 / 7)
    assert all(math.isnan(row[c]) for c in ("SFW", "A+S", "R+A+S"))
    shown = format_table2(table2({"toy": scores}))
    assert shown.loc["toy"].tolist() == ["62.5", "71.4", "n/a", "n/a", "n/a", "8", "1"]


def test_table_over_datasets() -> None:
    all_pass = pd.DataFrame(
        {
            "image_id": ["a", "b"],
            "passes_resolution": [True, True],
            "passes_aesthetic": pd.array([True, True], dtype="boolean"),
            "passes_nsfw": pd.array([True, True], dtype="boolean"),
            "decode_error": ["", ""],
        }
    )
    table = table2({"toy": _scores(), "clean": all_pass})
    assert list(table.index) == ["toy", "clean"] and table.index.name == "dataset"
    assert list(table.columns) == ["Resolution", "Aesthetic", "SFW", "A+S", "R+A+S", "n", "decode_errors"]
    assert table.loc["clean"].tolist() == [100.0, 100.0, 100.0, 100.0, 100.0, 2, 0]
    assert format_table2(table).loc["toy", "R+A+S"] == "28.6"
