"""Atomic writers: a table is written whole in the format its suffix names, or not at all."""

import pandas as pd
import pytest

from diffusion_classifier.artifacts import write_frame


def test_write_frame_picks_the_format_by_suffix(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "x": [0.123456789, 2.0]})
    parquet = write_frame(frame, tmp_path / "sub" / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), frame)
    csv = write_frame(frame, tmp_path / "t.csv", float_format="%.3g")
    assert csv.read_text() == "a,x\n1,0.123\n2,2\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub", "t.csv", "t.parquet"]


def test_a_failed_or_unknown_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"t\.xlsx: known suffixes \['.csv', '.parquet'\]"):
        write_frame(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
    with pytest.raises(Exception):
        write_frame(pd.DataFrame({"a": [object()]}), tmp_path / "t.parquet")  # pyarrow cannot store it
    assert list(tmp_path.iterdir()) == []
