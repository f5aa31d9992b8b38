"""A real scoring process killed at random points: the final shard is as if never interrupted.

Each attempt runs ``diffusion-classifier score-shard`` in a subprocess whose engine
appends a line per network batch (its passes) to a counter file. The test kills it
(SIGKILL, or SIGTERM / SIGUSR1 as Slurm sends before preemption) after a random number
of batches, usually in the middle of an image, reruns it, and at the end compares the
shard with an uninterrupted run. Per kill it counts the passes lost (done by the attempt
but not recoverable from the checkpoint: finished images' chunks plus the in-flight
image's saved pairs): at most one batch per SIGTERM/SIGUSR1 (they checkpoint the image
in flight) and per SIGKILL with time checkpoints after every batch; with time checkpoints
off, a SIGKILL loses at most one checkpoint's worth of images.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import pyarrow.parquet as pq
import torch

from diffusion_classifier.artifacts import read_shard
from diffusion_classifier.artifacts.preemption import InFlight
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.stages.score import score_shard

from test_score_shard import MODEL, STRATEGY, tiny_checkpoint

BATCH = 4
SCORING = {"device": "cpu", "checkpoint_every": 3, "checkpoint_seconds": 3600, "batch_size": BATCH}
EVERY_BATCH = {**SCORING, "checkpoint_seconds": 1e-6}  # a time checkpoint after every batch

DRIVER = """
import sys
from diffusion_classifier import cli
from diffusion_classifier.engine import DiffusionClassifier

counter, argv = sys.argv[1], sys.argv[2:]
original = DiffusionClassifier._batch_errors

def counted(self, x0, eps_true, t, cond_idx):
    out = original(self, x0, eps_true, t, cond_idx)
    with open(counter, "a") as handle:
        handle.write(f"{len(t)}\\n")
    return out

DiffusionClassifier._batch_errors = counted
sys.exit(cli.main(argv))
"""


def passes(path: Path) -> tuple[int, int]:
    """(batches, passes) the attempts have run so far."""
    counts = [int(line) for line in path.read_text().splitlines()] if path.exists() else []
    return len(counts), sum(counts)


def recoverable(partial: Path) -> int:
    """Passes a rerun need not redo: the checkpointed images' and the in-flight image's saved pairs."""
    chunks = [pq.read_table(p, columns=["image_id", "passes"]).to_pydict()
              for p in partial.glob("chunk-*.images.parquet")]
    done = {i for chunk in chunks for i in chunk["image_id"]}
    total = sum(sum(chunk["passes"]) for chunk in chunks)
    for image_id, state in InFlight.read(partial / InFlight.FILE).items():
        if image_id not in done:
            total += len(state["condition"])
    return total


def start(tmp_path, data, checkpoint, out, counter, scoring):
    argv = ["score-shard", "--dataset-dir", str(data), "--checkpoint", str(checkpoint), "--model", json.dumps(MODEL),
            "--strategy", json.dumps(STRATEGY), "--scoring", json.dumps(scoring), "--output-dir", str(out),
            "--threads", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    log = open(tmp_path / "attempts.log", "a")
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(counter), *argv], env=env, stdout=log, stderr=log)


def wait_for(counter: Path, target: int, process, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while passes(counter)[0] < target:
        assert process.poll() is None, f"the attempt ended early with {process.returncode}"
        assert time.monotonic() < deadline, "the attempt made no progress"
        time.sleep(0.01)


def test_killed_runs_resume_to_the_uninterrupted_shard(tmp_path):
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=14)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the attempts (--threads 1): the thread count changes float sums
    try:
        reference = read_shard(score_shard(data, checkpoint, MODEL, STRATEGY, SCORING, tmp_path / "reference"))
    finally:
        torch.set_num_threads(threads)

    per_image = int(reference.images["passes"].max())
    assert per_image > 2 * BATCH  # an image takes several batches: kills land inside images

    out, counter = tmp_path / "killed" / "shard-000", tmp_path / "passes.txt"
    partial = out.with_name("shard-000.partial")
    rng = random.Random(20231)
    kills = [(signal.SIGKILL, SCORING), (signal.SIGTERM, SCORING), (signal.SIGKILL, EVERY_BATCH),
             (signal.SIGUSR1, SCORING), (signal.SIGTERM, EVERY_BATCH)]
    allowed = 0
    for sig, scoring in kills:
        before, (batches, done) = recoverable(partial), passes(counter)
        process = start(tmp_path, data, checkpoint, out, counter, scoring)
        wait_for(counter, batches + rng.randint(3, 12), process)
        process.send_signal(sig)
        code = process.wait(timeout=120)
        lost = before + passes(counter)[1] - done - recoverable(partial)
        bound = BATCH if sig != signal.SIGKILL or scoring is EVERY_BATCH else SCORING["checkpoint_every"] * per_image
        assert 0 <= lost <= bound, f"{signal.Signals(sig).name} lost {lost} passes (allowed {bound})"
        allowed += bound
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert code == 128 + sig, (tmp_path / "attempts.log").read_text()[-2000:]
            assert not out.exists() and not (tmp_path / "killed" / ".shard-000.lock").exists()
    process = start(tmp_path, data, checkpoint, out, counter, SCORING)
    assert process.wait(timeout=300) == 0, (tmp_path / "attempts.log").read_text()[-2000:]

    shard = read_shard(out)
    redone = passes(counter)[1] - int(reference.images["passes"].sum())
    assert 0 <= redone <= allowed
    pd.testing.assert_frame_equal(shard.images, reference.images)  # measured time lives apart
    pd.testing.assert_frame_equal(shard.errors, reference.errors, check_exact=True)
    assert (out / "errors.parquet").read_bytes() == (tmp_path / "reference" / "errors.parquet").read_bytes()
    assert shard.provenance["run_key"] == reference.provenance["run_key"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["shard-000"]  # no partial, lock or hidden copy


def test_packed_images_are_preempted_and_resumed_to_the_unpacked_shard(tmp_path, monkeypatch):
    """Batches packed across 3 images: a SIGTERM in the middle of a group loses at most one batch."""
    from diffusion_classifier.artifacts.preemption import Preempted
    from diffusion_classifier.engine import DiffusionClassifier

    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=9)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    reference = read_shard(score_shard(data, checkpoint, MODEL, STRATEGY, SCORING, tmp_path / "reference"))
    packed = {**SCORING, "pack_images": 3}
    sizes, original = [], DiffusionClassifier._batch_errors

    def forward(self, x0, eps_true, t, cond_idx):  # a batch's pairs (its forward passes may be padded)
        out = original(self, x0, eps_true, t, cond_idx)
        sizes.append(len(t))
        if len(sizes) == forward.kill_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(DiffusionClassifier, "_batch_errors", forward)
    out = tmp_path / "packed" / "shard-000"
    for kill_after in (9, 4):
        forward.kill_at = len(sizes) + kill_after
        before, done = recoverable(out.with_name("shard-000.partial")), sum(sizes)
        with pytest.raises(Preempted):
            score_shard(data, checkpoint, MODEL, STRATEGY, packed, out)
        lost = before + sum(sizes) - done - recoverable(out.with_name("shard-000.partial"))
        assert 0 <= lost <= BATCH
        assert len(InFlight.read(out.with_name("shard-000.partial") / InFlight.FILE)) >= 2  # images in flight
    forward.kill_at = -1
    shard = read_shard(score_shard(data, checkpoint, MODEL, STRATEGY, packed, out))
    assert sum(sizes) - int(reference.images["passes"].sum()) <= 2 * BATCH
    assert sum(s < BATCH for s in sizes) < len(reference.images)  # packed: few short batches
    pd.testing.assert_frame_equal(shard.images, reference.images)  # measured time lives apart
    pd.testing.assert_frame_equal(shard.errors, reference.errors, check_exact=True)


def test_a_signal_after_the_shard_is_finished_leaves_no_partial_behind(tmp_path, monkeypatch):
    from diffusion_classifier.artifacts import ShardWriter
    from diffusion_classifier.artifacts.preemption import Preempted

    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=4)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    original = ShardWriter.finalize

    def finalize(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # lands before the scoring stage has returned
        return out

    monkeypatch.setattr(ShardWriter, "finalize", finalize)
    with pytest.raises(Preempted):
        score_shard(data, checkpoint, MODEL, STRATEGY, SCORING, tmp_path / "shard-000")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("shard", ".shard"))) == ["shard-000"]
