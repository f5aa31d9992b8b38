"""Stages write the files their rules declare; a mismatched list of outputs is a one-line error."""

from pathlib import Path

import pytest

from diffusion_classifier.errors import UserError
from diffusion_classifier.stages._outputs import table_and_figure
from diffusion_classifier.stages.supervised import run_schedule_study
from diffusion_classifier.stages.zoo import evaluate_zoo_model


def test_a_table_and_a_figure_come_in_the_rules_order():
    assert table_and_figure(["t/s.md", "t/s.csv", "f/s.png"], "--x") == (Path("t/s"), Path("f/s.png"))
    for paths in (["t/s.md", "t/s.csv"], ["t/s.md", "t/s.csv", "f/s.pdf"], ["t/a.md", "t/b.csv", "f.png"]):
        with pytest.raises(UserError, match="--x"):
            table_and_figure(paths, "--x")


def test_the_sequential_outputs_go_with_the_sequential_section(tmp_path):
    outputs = [str(tmp_path / f"seq.{x}") for x in ("md", "csv", "png")]
    with pytest.raises(UserError, match="--output-sequential.*study.sequential"):
        run_schedule_study(["shard"], {}, "s.md", "s.csv", "s.png", output_sequential=outputs)
    with pytest.raises(UserError, match="--output-sequential"):
        run_schedule_study(["shard"], {"sequential": {"k": [1.0]}}, "s.md", "s.csv", "s.png")


def test_zoo_outputs_are_one_per_setting(tmp_path):
    settings = {"a": {"dataset": "d"}, "b": {"dataset": "d"}}
    with pytest.raises(UserError, match=r"one file each per setting of zoo.settings \(2: a, b\), not 1 and 2"):
        evaluate_zoo_model({}, "m", settings, tmp_path, ["a.parquet"], ["a.json", "b.json"])
