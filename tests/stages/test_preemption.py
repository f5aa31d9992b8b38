"""A real scoring process killed at random points: the final shard is as if never interrupted.

Each attempt runs ``diffusion-classifier score-shard`` in a subprocess whose engine
appends a line to a counter file per finished image. The test kills it (SIGKILL, or
SIGTERM / SIGUSR1 as Slurm sends before preemption) once a random number of images
are done, reruns it, and at the end compares the shard with an uninterrupted run and
counts the images scored twice: at most one checkpoint batch per SIGKILL, none per
SIGTERM/SIGUSR1 (those flush every finished image and exit 128 + signal).
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
import pyarrow.parquet as pq

from diffusion_classifier.artifacts import read_shard
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.stages.score import score_shard

from test_score_shard import MODEL, STRATEGY, tiny_checkpoint

SCORING = {"device": "cpu", "checkpoint_every": 3, "checkpoint_seconds": 3600}

DRIVER = """
import sys
from diffusion_classifier import cli
from diffusion_classifier.engine import DiffusionClassifier

counter, argv = sys.argv[1], sys.argv[2:]
original = DiffusionClassifier.classify

def counted(self, x0, noise):
    out = original(self, x0, noise)
    with open(counter, "a") as handle:
        handle.write("1\\n")
    return out

DiffusionClassifier.classify = counted
sys.exit(cli.main(argv))
"""


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def checkpointed(partial: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in partial.glob("chunk-*.images.parquet"))


def start(tmp_path, data, checkpoint, out, counter):
    argv = ["score-shard", "--dataset-dir", str(data), "--checkpoint", str(checkpoint), "--model", json.dumps(MODEL),
            "--strategy", json.dumps(STRATEGY), "--scoring", json.dumps(SCORING), "--output-dir", str(out),
            "--threads", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    log = open(tmp_path / "attempts.log", "a")
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(counter), *argv], env=env, stdout=log, stderr=log)


def wait_for(counter: Path, target: int, process, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while lines(counter) < target:
        assert process.poll() is None, f"the attempt ended early with {process.returncode}"
        assert time.monotonic() < deadline, "the attempt made no progress"
        time.sleep(0.02)


def test_killed_runs_resume_to_the_uninterrupted_shard(tmp_path):
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=14)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    reference = read_shard(score_shard(data, checkpoint, MODEL, STRATEGY, SCORING, tmp_path / "reference"))
    total = len(reference.images)

    out, counter = tmp_path / "killed" / "shard-000", tmp_path / "finished-images.txt"
    partial = out.with_name("shard-000.partial")
    rng = random.Random(20231)
    kills = [signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGUSR1]
    for sig in kills:
        before_done, before_count = checkpointed(partial), lines(counter)
        process = start(tmp_path, data, checkpoint, out, counter)
        wait_for(counter, before_count + rng.randint(1, 2), process)
        process.send_signal(sig)
        code = process.wait(timeout=120)
        finished = lines(counter) - before_count
        lost = before_done + finished - checkpointed(partial)
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
            assert 0 <= lost <= SCORING["checkpoint_every"], f"a SIGKILL lost {lost} finished images"
        else:
            assert code == 128 + sig, (tmp_path / "attempts.log").read_text()[-2000:]
            # The counter marks an image when classify returns; a signal landing before the writer
            # adds it loses that one image, the one in flight (checkpoints are per image).
            assert 0 <= lost <= 1, f"{signal.Signals(sig).name} lost {lost} finished images"
        assert not out.exists() and not (tmp_path / "killed" / ".shard-000.lock").exists() or sig == signal.SIGKILL
    process = start(tmp_path, data, checkpoint, out, counter)
    assert process.wait(timeout=300) == 0, (tmp_path / "attempts.log").read_text()[-2000:]

    shard = read_shard(out)
    redone = lines(counter) - total
    assert 0 <= redone <= SCORING["checkpoint_every"] * kills.count(signal.SIGKILL) + sum(s != signal.SIGKILL for s in kills)
    ignore = ["seconds"]
    pd.testing.assert_frame_equal(shard.images.drop(columns=ignore), reference.images.drop(columns=ignore))
    pd.testing.assert_frame_equal(shard.errors, reference.errors)
    assert shard.provenance["run_key"] == reference.provenance["run_key"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["shard-000"]  # no partial, lock or hidden copy
