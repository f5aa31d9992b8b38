"""Measured time lives apart from the exact artifacts, in the timing tree, naming its artifact."""

import dataclasses
import json

import pyarrow.parquet as pq
import pytest

from diffusion_classifier.artifacts import ShardWriter, read_shard, read_timing, timing_path, write_timing
from diffusion_classifier.artifacts.timing import RESULTS_ENV, TimingError

from helpers.shards import fake_scores, provenance


@pytest.fixture
def results(tmp_path, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setenv(RESULTS_ENV, str(root))
    return root


def write_shard(target, seconds: float):
    writer = ShardWriter(target, provenance(), checkpoint_every=2)
    for i in range(3):
        writer.add(f"img-{i}", 0, i, dataclasses.replace(fake_scores(seed=i), seconds=seconds + i))
    return writer.finalize()


def test_a_shard_holds_no_measured_time_and_is_regenerated_byte_for_byte(results, tmp_path):
    first = write_shard(results / "scores/d/m/s/shard-000", seconds=0.5)
    again = write_shard(tmp_path / "again/results/scores/d/m/s/shard-000", seconds=7.25)  # slower, outside root
    for name in ("errors.parquet", "images.parquet", "provenance.json"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    assert "seconds" not in pq.read_schema(first / "images.parquet").names
    assert not {"started_at", "finished_at", "scoring_seconds_this_attempt"} & set(read_shard(first).provenance)


def test_the_shard_timing_file_mirrors_the_shard_and_names_it(results):
    shard = write_shard(results / "scores/d/m/s/shard-000", seconds=0.5)
    path = results / "timing/scores/d/m/s/shard-000.timing.json"
    assert timing_path(shard) == path
    timing = json.loads(path.read_text())
    assert timing["artifact"] == "scores/d/m/s/shard-000"
    assert timing["image_seconds"] == {"img-0": 0.5, "img-1": 1.5, "img-2": 2.5}  # checkpointed ones too
    assert timing["started_at"] <= timing["finished_at"] and timing["seconds_this_attempt"] >= 0
    assert read_timing(shard) == timing


def test_a_resumed_shard_still_times_every_image(results):
    target = results / "scores/d/m/s/shard-000"
    first = ShardWriter(target, provenance(), checkpoint_every=2)
    for i in range(2):
        first.add(f"img-{i}", 0, i, dataclasses.replace(fake_scores(seed=i), seconds=3.0))
    first.release()  # killed after its checkpoint
    resumed = ShardWriter(target, provenance(), checkpoint_every=2)
    resumed.add("img-2", 0, 2, dataclasses.replace(fake_scores(seed=2), seconds=4.0))
    resumed.finalize()
    assert read_timing(target)["image_seconds"] == {"img-0": 3.0, "img-1": 3.0, "img-2": 4.0}
    assert resumed.image_seconds == {"img-0": 3.0, "img-1": 3.0, "img-2": 4.0}


def test_without_a_results_directory_time_is_only_logged(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert timing_path(tmp_path / "x") is None
    assert write_timing(tmp_path / "x", {"seconds": 1.0}) is None
    assert list(tmp_path.iterdir()) == []


def test_the_timing_file_names_the_git_commit_the_artifact_never_does(results, monkeypatch):
    from diffusion_classifier.artifacts import provenance as provenance_module
    from diffusion_classifier.artifacts import timing

    assert timing.git_describe is provenance_module.git_describe  # one home for the commit
    monkeypatch.setattr(timing, "git_describe", lambda: "0123456789ab-dirty")
    shard = write_shard(results / "scores/d/m/s/shard-000", seconds=0.5)
    assert read_timing(shard)["git_commit"] == "0123456789ab-dirty"
    assert "0123456789ab" not in (shard / "provenance.json").read_text()
    monkeypatch.setattr(timing, "git_describe", lambda: None)  # no git checkout (an installed wheel)
    recorded = json.loads(write_timing(results / "models/unet", {"seconds": 1.0}).read_text())
    assert recorded["git_commit"] is None and recorded["artifact"] == "models/unet" and recorded["seconds"] == 1.0


def test_the_git_commit_is_that_of_the_checkout_the_package_runs_from():
    import subprocess
    from pathlib import Path

    import diffusion_classifier
    from diffusion_classifier.artifacts.provenance import git_describe

    package = Path(diffusion_classifier.__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=package, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("the package does not run from a git checkout")
    assert head.stdout.strip() in git_describe()


def test_a_missing_timing_file_is_a_one_line_error_naming_it(results):
    with pytest.raises(TimingError, match=r"timing/models/unet\.timing\.json is missing; rerun") as info:
        read_timing(results / "models/unet")
    assert "\n" not in str(info.value)


def test_the_runtime_table_reads_the_shards_timing_files(results, tmp_path):
    from diffusion_classifier.stages.report import make_runtime_table, make_tables

    shards = [write_shard(results / f"scores/d/m/s/shard-00{i}", seconds=1.0 + i) for i in range(2)]
    summary = {"dataset": "d", "model": "m", "strategy": "s", "passes_per_image": 20.0, "num_images": 6,
               "accuracy": 0.5, "accuracy_ci_low": 0.1, "accuracy_ci_high": 0.9, "mean_per_class_accuracy": 0.5,
               "scoring_config": {"schedule": {"evaluations": [5], "keep": [1]}, "loss": "l2"},
               "shards": [{"path": str(s), "device": "cpu"} for s in shards]}
    path = results / "predictions/d/m/s.summary.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(summary))
    csv, _ = make_runtime_table([path], results / "timing/runtime.md", results / "timing/runtime.csv")
    import pandas as pd

    row = pd.read_csv(csv).iloc[0]
    assert row["seconds_per_image"] == pytest.approx((1 + 2 + 3 + 2 + 3 + 4) / 6)
    assert row["passes_per_second"] == pytest.approx(20 / row["seconds_per_image"])
    tables = results / "tables"
    made = make_tables("classification", {"summaries": [str(path)]}, tables / "classification.md",
                       tables / "classification.csv")
    assert [p.name for p in made] == ["classification.csv", "classification.md"]
    assert (tables / "classification.md").read_text().startswith("Diffusion Classifier accuracy (%) with 99.5%")


def test_shards_pulled_without_their_timing_leave_the_runtime_empty(results, caplog):
    """Timing is not versioned: a run regenerating tables from pulled shards has none."""
    from diffusion_classifier.reporting.run_tables import runtime_frame

    shard = write_shard(results / "scores/d/m/s/shard-000", seconds=1.0)
    timing_path(shard).unlink()
    summary = {"dataset": "d", "model": "m", "strategy": "s", "passes_per_image": 20.0,
               "shards": [{"path": str(shard), "device": "cpu"}]}
    path = results / "s.summary.json"
    path.write_text(json.dumps(summary))
    row = runtime_frame([summary]).iloc[0]
    assert row.isna()[["seconds_per_image", "passes_per_second"]].all() and row["passes_per_image"] == 20.0
    assert "shard-000.timing.json is missing" in caplog.text
