"""The error store: round trip, atomic finish, resume after preemption, compactness."""

import json

import numpy as np
import pytest

from diffusion_classifier.artifacts import ShardWriter, read_errors, read_images, read_shard
from diffusion_classifier.engine import ImageScores


def fake_scores(num_classes=4, num_points=5, seed=0, prediction=1):
    rng = np.random.default_rng(seed)
    n = num_classes * num_points
    return ImageScores(
        condition=np.repeat(np.arange(num_classes), num_points).astype(np.int32),
        grid_index=np.tile(np.arange(num_points), num_classes).astype(np.int32),
        timestep=np.tile(np.arange(num_points) * 200 + 100, num_classes).astype(np.int32),
        stage=np.zeros(n, np.int16),
        errors={"l2": rng.random(n, dtype=np.float32)},
        kept=[[prediction]],
        prediction=prediction,
        passes=n,
        seconds=0.5,
    )


def provenance(key="abc"):
    return {"run_key": key, "model_id": "m"}


def test_round_trip(tmp_path):
    target = tmp_path / "shard-000"
    writer = ShardWriter(target, provenance(), checkpoint_every=2)
    written = {f"img-{i}": fake_scores(seed=i, prediction=i % 4) for i in range(5)}
    for i, (image_id, scores) in enumerate(written.items()):
        writer.add(image_id, label=1, seed=100 + i, scores=scores)
    writer.finalize()
    assert not (tmp_path / "shard-000.partial").exists()
    shard = read_shard(target)
    assert shard.provenance["num_images"] == 5 and shard.provenance["run_key"] == "abc"
    assert list(shard.images["image_id"]) == list(written)
    assert list(shard.images["correct"]) == [s.prediction == 1 for s in written.values()]
    errors = read_errors([target], image_ids=["img-3"])
    np.testing.assert_array_equal(errors["error_l2"].to_numpy(), written["img-3"].errors["l2"])
    assert errors["error_l2"].dtype == np.float32


def test_resume_skips_checkpointed_images(tmp_path):
    target = tmp_path / "shard-000"
    first = ShardWriter(target, provenance(), checkpoint_every=2)
    for i in range(3):
        first.add(f"img-{i}", 0, i, fake_scores(seed=i))
    # Preempted here: two images were checkpointed, the third was only buffered.
    assert not target.exists()
    first.release()  # the process died: the kernel drops its lock
    resumed = ShardWriter(target, provenance(), checkpoint_every=2)
    assert resumed.done == {"img-0", "img-1"}
    for i in range(2, 4):
        resumed.add(f"img-{i}", 0, i, fake_scores(seed=i))
    resumed.finalize()
    assert sorted(read_images([target])["image_id"]) == [f"img-{i}" for i in range(4)]


def test_checkpoint_of_another_configuration_is_discarded(tmp_path):
    target = tmp_path / "shard-000"
    old = ShardWriter(target, provenance("old"), checkpoint_every=1)
    old.add("img-0", 0, 0, fake_scores())
    old.release()
    new = ShardWriter(target, provenance("new"), checkpoint_every=1)
    assert new.done == set()


def test_unfinished_shard_is_a_clear_error(tmp_path):
    (tmp_path / "shard-000").mkdir()
    with pytest.raises(FileNotFoundError, match="not a finished shard"):
        read_shard(tmp_path / "shard-000")


def test_errors_stay_near_four_bytes_each(tmp_path):
    # 100 images x 100 classes x 50 timesteps = 500,000 float32 errors with their keys.
    target = tmp_path / "shard-000"
    writer = ShardWriter(target, provenance(), checkpoint_every=100)
    for i in range(100):
        writer.add(f"img-{i:03d}", 0, i, fake_scores(num_classes=100, num_points=50, seed=i))
    writer.finalize()
    rows = 100 * 100 * 50
    size = (target / "errors.parquet").stat().st_size
    assert size / rows <= 4.0, f"{size / rows:.2f} bytes per stored error"
    assert json.loads((target / "provenance.json").read_text())["num_images"] == 100


def test_a_class_map_turns_the_winning_condition_into_a_label(tmp_path):
    # ObjectNet-style: conditions 0-2 belong to label 0, condition 3 to label 1.
    writer = ShardWriter(tmp_path / "shard-000", provenance())
    writer.add("img-0", label=0, seed=0, scores=fake_scores(prediction=2), predicted_label=0)
    writer.add("img-1", label=0, seed=1, scores=fake_scores(prediction=3), predicted_label=1)
    images = read_shard(writer.finalize()).images
    assert list(images["prediction"]) == [0, 1] and list(images["predicted_condition"]) == [2, 3]
    assert list(images["correct"]) == [True, False]
