"""The sequential strategy through the stages: a directly scored shard equals its replay
on a stored one-stage shard, and the schedule study measures its k curve."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from diffusion_classifier.artifacts import ShardError, read_shard
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.engine.replay import cross_fitted_replay, replay_sequential
from diffusion_classifier.engine.sequential import SequentialConfig
from diffusion_classifier.reporting.schedule_study import sequential_caption, sequential_study
from diffusion_classifier.specs import SequentialStudySpec
from diffusion_classifier.reporting import stored_runs
from diffusion_classifier.reporting.stored_runs import iter_cubes
from diffusion_classifier.stages.aggregate import aggregate_scores
from diffusion_classifier.stages.score import score_shard, shard_rows
from diffusion_classifier.cli import main
from diffusion_classifier.errors import UserError
from diffusion_classifier.stages.supervised import fit_calibration, run_schedule_study

from test_score_shard import MODEL, tiny_checkpoint

SEQ = {"block": 2, "k": 1.0, "min_points": 2}


def test_direct_sequential_shard_equals_its_replay_and_the_study_reads_it(tmp_path, request, monkeypatch):
    threads = torch.get_num_threads()
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    torch.set_num_threads(1)  # tiny model: one thread is fastest on a shared machine
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=8)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    scoring = {"device": "cpu", "batch_size": 16}
    one = score_shard(data, checkpoint, MODEL, {"evaluations": [8], "loss": "l2"}, scoring, tmp_path / "one")
    seq = score_shard(data, checkpoint, MODEL, {"evaluations": [8], "loss": "l2", "sequential": SEQ}, scoring,
                      tmp_path / "seq")
    direct = read_shard(seq)
    assert direct.provenance["settings"]["scoring_config"]["sequential"] == SEQ
    (cubes, _), = iter_cubes([one], ["l2"])
    replayed = replay_sequential(cubes["l2"], SequentialConfig(**SEQ))
    images = direct.images.set_index("image_id").loc[cubes["l2"].image_ids]
    assert np.array_equal(images["predicted_condition"].to_numpy(), replayed.predictions)
    assert np.array_equal(images["passes"].to_numpy(), replayed.passes)
    assert (images["passes"] < 80).any()  # some images stopped early
    # the stored pairs are one-stage pairs: same errors (to float32 rounding: a batch packs
    # other pairs beside them), stage = block index
    stored = read_shard(one).errors.set_index(["image_id", "condition", "grid_index"])["error_l2"]
    pairs = direct.errors.set_index(["image_id", "condition", "grid_index"])
    np.testing.assert_allclose(pairs["error_l2"].to_numpy(), stored.loc[pairs.index].to_numpy(), rtol=1e-5)
    assert pairs["stage"].max() <= 3
    # aggregation verifies each stored outcome by replaying the run's own sequential test
    summary = aggregate_scores([seq], data, tmp_path / "seq.parquet", tmp_path / "seq.summary.json")
    assert summary["num_images"] == len(images) and summary["passes_per_image"] == pytest.approx(images["passes"].mean())

    study = {"loss": "l2", "two_stage_evaluations": [2], "two_stage_keep": [3],
             "sequential": {"k": [0.5, 1.0], "block": 2, "min_points": 2,
                            "reference": {"evaluations": [2, 8], "keep": [3, 1]}}}
    reads = []
    monkeypatch.setattr(stored_runs, "read_shard", lambda path, **kw: reads.append(path) or read_shard(path, **kw))
    out = run_schedule_study([one], study, tmp_path / "study.md", tmp_path / "study.csv", tmp_path / "study.png",
                             names={"dataset": "digits", "model": "tiny"},
                             sequential_runs=[{"name": "again", "shards": [str(one)]}],
                             output_sequential=[tmp_path / f"seq_study.{x}" for x in ("md", "csv", "png")])
    assert {p.name for p in out} >= {"seq_study.csv", "seq_study.png", "study.csv"}
    assert len(reads) == 2  # the study run's shard once (schedules and sequential study), "again" once
    study = pd.read_csv(tmp_path / "study.csv")
    row = study[study["schedule"] == "sequential k=1, block 2, min 2"].iloc[0]
    assert row["strategy"] == "sequential" and row["passes_per_image"] == pytest.approx(replayed.passes.mean(), rel=1e-5)
    assert row["accuracy"] == pytest.approx(100.0 * (replayed.predictions == cubes["l2"].labels).mean(), rel=1e-5)
    frame = pd.read_csv(tmp_path / "seq_study.csv")
    assert list(dict.fromkeys(frame["run"])) == ["digits/tiny", "again"]
    part = frame[frame["run"] == "again"].set_index("rule")
    assert part.loc["one stage", "passes_per_image"] == 80 and part.loc["one stage", "agreement_with_one_stage"] == 100
    assert part.loc["reference keep 3/1, trials 2/8", "passes_per_image"] == 10 * 2 + 3 * 6
    seq_row = part.loc["sequential k=1, block 2, min 2"]
    assert seq_row["one_stage_fraction"] == pytest.approx(replayed.passes.mean() / 80, rel=1e-5)
    expected_goal = (seq_row["agreement_with_one_stage"] >= 99 and seq_row["one_stage_fraction"] <= 0.2
                     and seq_row["reference_fraction"] <= 0.5
                     and part.loc["one stage", "ci_low"] <= seq_row["accuracy"] <= part.loc["one stage", "ci_high"])
    assert bool(seq_row["meets_goal"]) == expected_goal
    assert "goal" in (tmp_path / "seq_study.md").read_text()

    # the conditional test: each half calibrated on 2 images of the other, its one-off cost shown apart
    spec = SequentialStudySpec(k=[1.0], block=1, min_points=1, test="conditional", calibration_images=2)
    frame, _ = sequential_study([{"name": "cond", "shards": [one]}], "l2", spec)
    cond = frame[frame["kind"] == "sequential"].iloc[0]
    crossed = cross_fitted_replay(cubes["l2"], spec.configs()[0], 2)
    assert cond["passes_per_image"] == pytest.approx(crossed.passes.mean())
    assert cond["calibration_passes"] == 2 * 80
    assert cond["passes_per_image_with_calibration"] == pytest.approx(crossed.passes.mean() + 2 * 80 / 8)
    assert "conditional test" in sequential_caption(frame, spec)


def test_a_direct_conditional_run_reads_a_fitted_calibration_and_equals_its_replay(tmp_path, request, capsys):
    threads = torch.get_num_threads()
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    torch.set_num_threads(1)
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=8)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    scoring = {"device": "cpu", "batch_size": 16}
    one = score_shard(data, checkpoint, MODEL, {"evaluations": [8], "loss": "l2"}, scoring, tmp_path / "one")
    # fitted on other images than those classified: a calibration split (train), as the workflow does
    on_train = score_shard(data, checkpoint, MODEL, {"evaluations": [8], "loss": "l2"}, scoring, tmp_path / "cal",
                           split="train", max_images=4)
    calibration = fit_calibration([on_train], "l2", tmp_path / "calibration.json", images=4)
    stored = json.loads(calibration.read_text())
    assert stored["images"] == 4 and len(stored["provenance"]["image_ids"]) == 4 and len(stored["timesteps"]) == 8
    seq = {"block": 1, "k": 1.0, "min_points": 1, "test": "conditional"}
    shard = score_shard(data, checkpoint, MODEL, {"evaluations": [8], "loss": "l2", "sequential": seq}, scoring,
                        tmp_path / "seq", calibration=calibration)
    seq["calibration"] = str(calibration)
    direct = read_shard(shard)
    assert direct.provenance["settings"]["scoring_config"]["sequential"]["calibration_sha256"]
    (cubes, _), = iter_cubes([one], ["l2"])
    replayed = replay_sequential(cubes["l2"], SequentialConfig(**seq))
    images = direct.images.set_index("image_id").loc[cubes["l2"].image_ids]
    assert np.array_equal(images["predicted_condition"].to_numpy(), replayed.predictions)
    assert np.array_equal(images["passes"].to_numpy(), replayed.passes)
    assert aggregate_scores([shard], data, tmp_path / "c.parquet", tmp_path / "c.json")["num_images"] == len(images)
    calibration.write_text(calibration.read_text().replace('"images": 4', '"images": 5'))
    with pytest.raises(ShardError, match="has changed since the run was scored"):
        aggregate_scores([shard], data, tmp_path / "c.parquet", tmp_path / "c.json")
    with pytest.raises(UserError, match="no sequential test to calibrate"):
        score_shard(data, checkpoint, MODEL, {"evaluations": [8]}, scoring, tmp_path / "x", calibration=calibration)
    with pytest.raises(UserError, match="fewer than --images 50"):
        fit_calibration([one], "l2", tmp_path / "too_many.json", images=50)
    # fitted on the images being classified: refused, through the command line too (issue 22)
    on_test = fit_calibration([one], "l2", tmp_path / "on_test.json", images=4)
    uncalibrated = {key: value for key, value in seq.items() if key != "calibration"}
    with pytest.raises(UserError, match="was fitted on 4 of the images this run classifies"):
        score_shard(data, checkpoint, MODEL, {"evaluations": [8], "loss": "l2", "sequential": uncalibrated},
                    scoring, tmp_path / "leak", calibration=on_test)
    assert main(["score-shard", "--dataset-dir", str(data), "--checkpoint", str(checkpoint), "--model",
                 json.dumps(MODEL), "--strategy", json.dumps({"evaluations": [8], "loss": "l2", "sequential": uncalibrated}),
                 "--scoring", json.dumps(scoring), "--output-dir", str(tmp_path / "leak"),
                 "--calibration", str(on_test)]) == 2
    assert "was fitted on 4 of the images" in capsys.readouterr().err
    # a calibration of another grid is refused with the reason
    with pytest.raises(ValueError, match="covers 8 grid points, the grid has 6"):
        score_shard(data, checkpoint, MODEL, {"evaluations": [6], "loss": "l2", "sequential": seq}, scoring,
                    tmp_path / "other")


def test_shard_rows_take_the_first_rows_by_id_then_interleave():
    rows = pd.DataFrame({"image_id": [f"i{k}" for k in (5, 3, 9, 1, 7, 2)]})
    assert shard_rows(rows, 0, 1, first=4)["image_id"].tolist() == ["i1", "i2", "i3", "i5"]
    assert shard_rows(rows, 1, 2, first=4)["image_id"].tolist() == ["i2", "i5"]
    assert len(shard_rows(rows, 0, 1)) == 6
    with pytest.raises(ValueError, match="7 rows asked for, but there are 6"):
        shard_rows(rows, 0, 1, first=7)
