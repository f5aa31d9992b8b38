"""The error store: round trip, atomic finish, resume after preemption, compactness."""

import json

import numpy as np
import pytest

from diffusion_classifier.artifacts import ShardWriter, read_errors, read_images, read_shard
from helpers.shards import fake_scores, provenance


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


def test_a_second_writer_on_one_shard_fails_naming_the_holder(tmp_path):
    import os

    from diffusion_classifier.artifacts import ShardError

    target = tmp_path / "shard-000"
    first = ShardWriter(target, provenance(), checkpoint_every=1)
    first.add("img-0", 0, 0, fake_scores())
    with pytest.raises(ShardError, match=rf"being written by pid {os.getpid()} on host .*wait for that job"):
        ShardWriter(target, provenance(), checkpoint_every=1)
    first.finalize()
    assert not (tmp_path / ".shard-000.lock").exists()  # released, and no stray file in the results
    ShardWriter(target, provenance()).release()  # the next writer gets the lock


def test_a_finished_shard_holds_exactly_its_images_or_is_not_written(tmp_path):
    from diffusion_classifier.artifacts import ShardError

    target = tmp_path / "shard-000"
    writer = ShardWriter(target, provenance(), checkpoint_every=2)
    for i in range(3):
        writer.add(f"img-{i}", 0, i, fake_scores(seed=i))
    with pytest.raises(ShardError, match=r"exactly its 4 images \(missing 1 e\.g\. \['img-3'\]"):
        writer.finalize(expected_ids=[f"img-{i}" for i in range(4)])
    assert not target.exists()


def test_checkpoints_by_time_as_well_as_by_count(tmp_path, monkeypatch):
    import diffusion_classifier.artifacts.store as store

    clock = {"now": 1000.0}
    monkeypatch.setattr(store.time, "monotonic", lambda: clock["now"])
    writer = ShardWriter(tmp_path / "shard-000", provenance(), checkpoint_every=100, checkpoint_seconds=60)
    chunks = lambda: len(list((tmp_path / "shard-000.partial").glob("chunk-*.images.parquet")))  # noqa: E731
    writer.add("img-0", 0, 0, fake_scores())
    clock["now"] += 59
    writer.add("img-1", 0, 1, fake_scores())
    assert not (tmp_path / "shard-000.partial").exists()
    clock["now"] += 2  # a minute since the last flush: the slow images are saved
    writer.add("img-2", 0, 2, fake_scores())
    assert chunks() == 1
    clock["now"] += 30
    writer.add("img-3", 0, 3, fake_scores())
    assert chunks() == 1


def test_a_damaged_chunk_is_dropped_and_its_images_rescored(tmp_path, caplog):
    target = tmp_path / "shard-000"
    first = ShardWriter(target, provenance(), checkpoint_every=2)
    for i in range(6):
        first.add(f"img-{i}", 0, i, fake_scores(seed=i))
    first.release()
    damaged = target.with_name("shard-000.partial") / "chunk-00001.errors.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-20])  # truncated by a dying disk write
    resumed = ShardWriter(target, provenance(), checkpoint_every=2)
    assert resumed.done == {"img-0", "img-1", "img-4", "img-5"}
    assert "dropping damaged checkpoint chunk" in caplog.text and "chunk-00001" in caplog.text
    for i in (2, 3):
        resumed.add(f"img-{i}", 0, i, fake_scores(seed=i))
    resumed.finalize(expected_ids=[f"img-{i}" for i in range(6)])
    assert sorted(read_images([target])["image_id"]) == [f"img-{i}" for i in range(6)]


def test_a_kill_during_the_final_swap_leaves_no_hidden_copy(tmp_path):
    target = tmp_path / "shard-000"
    writer = ShardWriter(target, provenance(), checkpoint_every=1)
    writer.add("img-0", 0, 0, fake_scores())
    writer.release()
    # What a SIGKILL between writing the finished copy and renaming it leaves behind.
    left = tmp_path / ".shard-000.k1ll3d.tmp"
    left.mkdir()
    (left / "errors.parquet").write_bytes(b"x" * 1000)
    ShardWriter(target, provenance()).finalize()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-000"]


def test_artifacts_honour_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o027)
    try:
        writer = ShardWriter(tmp_path / "shard-000", provenance(), checkpoint_every=1)
        writer.add("img-0", 0, 0, fake_scores())
        target = writer.finalize()
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    for name in ("errors.parquet", "images.parquet", "provenance.json"):
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o640, name


def test_readers_verify_each_file_against_its_recorded_sha256(tmp_path):
    from diffusion_classifier.artifacts import ShardError

    writer = ShardWriter(tmp_path / "shard-000", provenance())
    writer.add("img-0", 0, 0, fake_scores(prediction=1))
    target = writer.finalize()
    recorded = json.loads((target / "provenance.json").read_text())["files"]
    assert set(recorded) == {"errors.parquet", "images.parquet"}
    images = read_images([target]).assign(correct=True)  # an edited outcome, still a valid table
    images.to_parquet(target / "images.parquet", index=False)
    for read in (lambda: read_shard(target), lambda: read_images([target]), lambda: read_errors([target])):
        with pytest.raises(ShardError, match="images.parquet does not match the sha256 recorded"):
            read()


def test_parquet_pages_carry_checksums_that_reads_verify(tmp_path):
    import pyarrow.parquet as pq

    writer = ShardWriter(tmp_path / "shard-000", provenance())
    writer.add("img-0", 0, 0, fake_scores(num_classes=50, num_points=50))
    target = writer.finalize()
    path = target / "errors.parquet"
    data = bytearray(path.read_bytes())
    column = pq.ParquetFile(path).metadata.row_group(0).column(5)  # error_l2
    middle = column.data_page_offset + column.total_compressed_size // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="(?i)crc|checksum"):
        pq.read_table(path, page_checksum_verification=True)
