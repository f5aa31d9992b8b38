"""Caption-pair shards run the classification shards' scoring loop: an image interrupted
mid-way keeps its evaluated pairs, and the resumed shard equals an uninterrupted one."""

import signal

import pandas as pd
import pytest

from diffusion_classifier.artifacts import read_shard
from diffusion_classifier.artifacts.preemption import InFlight, Preempted
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.engine import DiffusionClassifier
from diffusion_classifier.stages.pairs import score_pairs
from diffusion_classifier.stages.prompts import prepare_prompts

from helpers.native_formats import fake_parquet_copy
from helpers.sd_helpers import IMAGE_SIZE

MODEL = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}
STRATEGY = {"evaluations": [4], "loss": "l2"}
# Two pairs per batch: an image (2 captions x 4 timesteps) takes four batches.
SCORING = {"device": "cpu", "batch_size": 2, "seed": 0, "checkpoint_every": 1, "checkpoint_seconds": 3600}


def test_a_preempted_pair_shard_keeps_the_image_in_flight_and_resumes(tmp_path, sd, monkeypatch):
    data = prepare_dataset("winoground", tmp_path / "wino", local_dir=str(fake_parquet_copy(tmp_path / "copy")))
    prompts = prepare_prompts(data, sd, MODEL, tmp_path / "prompts", scoring=SCORING)
    whole = score_pairs(data, sd, MODEL, STRATEGY, SCORING, prompts, tmp_path / "whole", num_shards=4)

    original, batches = DiffusionClassifier._forward, []

    def preempted_in_the_second_image(self, *args):
        batches.append(1)
        if len(batches) == 6:  # the second image's second batch
            raise Preempted(signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(DiffusionClassifier, "_forward", preempted_in_the_second_image)
    out = tmp_path / "shard"
    with pytest.raises(Preempted):
        score_pairs(data, sd, MODEL, STRATEGY, SCORING, prompts, out, num_shards=4)
    saved = InFlight.read(out.with_name("shard.partial") / InFlight.FILE)
    assert len(saved) == 1 and len(next(iter(saved.values()))["condition"]) == 2  # its first batch of pairs

    monkeypatch.setattr(DiffusionClassifier, "_forward", original)
    resumed = read_shard(score_pairs(data, sd, MODEL, STRATEGY, SCORING, prompts, out, num_shards=4))
    expected = read_shard(whole)
    pd.testing.assert_frame_equal(resumed.errors, expected.errors)
    pd.testing.assert_frame_equal(resumed.images, expected.images)
