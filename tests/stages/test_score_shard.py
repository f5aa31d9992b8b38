"""score_shard on a prepared dataset: class maps, resumption, provenance."""

import pandas as pd
import torch
from diffusers import DDPMScheduler

from diffusion_classifier.artifacts import read_shard
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.engine import DiffusionClassifier
from diffusion_classifier.models.architectures import build_architecture
from diffusion_classifier.stages.score import score_shard

MODEL = {"adapter": "class_conditional", "image": {"size": 8, "channels": 1, "resample": "bilinear"}}
STRATEGY = {"evaluations": [2, 4], "keep": [3, 1], "loss": "l2"}


def tiny_checkpoint(root, num_classes=12):
    torch.manual_seed(0)
    build_architecture("tiny_unet", num_classes=num_classes, sample_size=8, in_channels=1,
                       block_out_channels=(8, 16)).save_pretrained(root / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(root / "scheduler")
    return root


def test_class_map_candidates_are_scored_and_mapped_back(tmp_path):
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=10)
    # Label 0 stands for model ids 10 and 11 (ObjectNet-style); label k > 0 for id k.
    classes = pd.read_csv(data / "classes.csv")
    classes["class_ids"] = ["10;11"] + [str(k) for k in range(1, 10)]
    classes.to_csv(data / "classes.csv", index=False)
    out = score_shard(data, tiny_checkpoint(tmp_path / "model"), MODEL, STRATEGY, {"device": "cpu"},
                      tmp_path / "shard-000")
    shard = read_shard(out)
    assert shard.provenance["num_classes"] == 11
    assert shard.provenance["candidate_labels"] == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert shard.provenance["passes_per_image_planned"] == 11 * 2 + 3 * 2
    images = shard.images
    mapped = [0, 0, *range(1, 10)]
    assert [mapped[c] for c in images["predicted_condition"]] == list(images["prediction"])
    assert (images["passes"] == 28).all()


def test_rerun_resumes_from_the_checkpoint(tmp_path, monkeypatch):
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=10)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    scoring = {"device": "cpu", "checkpoint_every": 2}

    calls = {"n": 0}
    original = DiffusionClassifier.classify

    def preempted(self, x0, noise, *log):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("preempted")
        return original(self, x0, noise, *log)

    monkeypatch.setattr(DiffusionClassifier, "classify", preempted)
    try:
        score_shard(data, checkpoint, MODEL, STRATEGY, scoring, tmp_path / "shard-000")
    except KeyboardInterrupt:
        pass
    assert not (tmp_path / "shard-000").exists()
    assert len(list((tmp_path / "shard-000.partial").glob("chunk-*.images.parquet"))) == 2
    monkeypatch.setattr(DiffusionClassifier, "classify", original)
    counted = []
    monkeypatch.setattr(DiffusionClassifier, "classify",
                        lambda self, x0, noise, *log: counted.append(1) or original(self, x0, noise, *log))
    shard = read_shard(score_shard(data, checkpoint, MODEL, STRATEGY, scoring, tmp_path / "shard-000"))
    assert len(counted) == 6  # 10 images, 4 were checkpointed before the interruption
    assert len(shard.images) == 10 and shard.images["image_id"].is_unique


def test_a_strategy_can_share_one_noise_across_images(tmp_path):
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=10)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    shared = read_shard(score_shard(data, checkpoint, MODEL, {**STRATEGY, "share_noise_across_images": True},
                                    {"device": "cpu", "seed": 7}, tmp_path / "shared"))
    own = read_shard(score_shard(data, checkpoint, MODEL, STRATEGY, {"device": "cpu", "seed": 7}, tmp_path / "own"))
    assert set(shared.images["seed"]) == {7} and shared.provenance["settings"]["share_noise_across_images"]
    assert own.images["seed"].nunique() == len(own.images)
