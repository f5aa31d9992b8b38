"""CLIP zero-shot: prompts, argmax against hand-worked and numpy values, the stage and its n/a path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from diffusion_classifier.audit import ChecksumMismatchError
from diffusion_classifier.baselines import (
    WEIGHTS_UNAVAILABLE,
    class_prompts,
    load_clip_model,
    zero_shot_predict,
)
from diffusion_classifier.specs import ClipModelSpec
from diffusion_classifier.stages.baselines import clip_zero_shot

from helpers import clip_standin
from .conftest import EXPECTED_PREDICTIONS

ZERO_SHOT = {"models": ["stand_in"], "datasets": ["colors"], "prompt_templates": {"colors": "a photo of a {}."},
             "batch_size": 4, "device": "cpu"}


def test_class_prompts_follow_the_template():
    assert class_prompts("a photo of a {}, a type of pet.", ["pug", "beagle"]) == [
        "a photo of a pug, a type of pet.", "a photo of a beagle, a type of pet."]
    with pytest.raises(ValueError, match="exactly one"):
        class_prompts("a photo", ["pug"])


def test_colour_stand_in_predicts_the_hand_worked_classes(color_dataset, tmp_path):
    template_words = {clip_standin.word_id(w) for w in ("a", "photo", "of")}
    assert not template_words & {clip_standin.word_id(w) for w in clip_standin.COLOR_WORDS}
    summary = clip_zero_shot(color_dataset, clip_standin.spec("colors"), ZERO_SHOT, tmp_path / "p.parquet",
                             tmp_path / "s.json", {"model": "stand_in", "dataset": "colors"})
    table = pd.read_parquet(tmp_path / "p.parquet")
    assert table["prediction"].tolist() == EXPECTED_PREDICTIONS
    assert summary["status"] == "ok" and summary["num_correct"] == 4 and summary["num_images"] == 6
    assert summary["accuracy"] == pytest.approx(4 / 6)
    assert summary["mean_per_class_accuracy"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    assert summary["prompt_template"] == "a photo of a {}."
    # Cosine logits: image (230, 128, 0) against red = 230 / |(230, 128, 0)|.
    assert table["logits"][3][0] == pytest.approx(230 / np.hypot(230, 128), rel=1e-5)
    assert json.loads((tmp_path / "s.json").read_text())["accuracy"] == pytest.approx(4 / 6)


def test_random_stand_in_matches_an_independent_numpy_computation():
    rng = np.random.default_rng(3)
    images = [Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)) for _ in range(7)]
    prompts = ["a photo of a cat.", "a photo of a dog.", "a blurry photo of a ship."]
    clip = load_clip_model(ClipModelSpec(**clip_standin.spec("random", "5")))
    predictions, logits = zero_shot_predict(clip, iter(images), prompts, batch_size=4, total=7)

    image_proj, embedding = (w.numpy().astype(np.float64) for w in clip_standin.random_weights(5))
    feats = np.stack([
        (np.asarray(im.resize((4, 4), Image.BILINEAR), dtype=np.float64) / 255.0).transpose(2, 0, 1).ravel()
        for im in images]) @ image_proj
    text = np.stack([embedding[clip_standin.tokenize([p])[0].numpy()].sum(0) for p in prompts])
    expected = (feats / np.linalg.norm(feats, axis=1, keepdims=True)) @ (
        text / np.linalg.norm(text, axis=1, keepdims=True)).T
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(predictions, expected.argmax(1))
    assert len(set(predictions.tolist())) > 1  # a test of the argmax, not of a constant


def test_missing_weights_give_an_unavailable_summary_not_a_number(color_dataset, tmp_path):
    spec = {"architecture": "RN50", "pretrained": "openai", "checkpoint": str(tmp_path / "absent.pt"),
            "table1_row": "clip_rn50"}
    summary = clip_zero_shot(color_dataset, spec, ZERO_SHOT, tmp_path / "p.parquet", tmp_path / "s.json",
                             {"model": "clip_rn50", "dataset": "colors"})
    assert summary["status"] == "unavailable" and summary["reason"] == WEIGHTS_UNAVAILABLE
    assert summary["accuracy"] is None and "absent.pt" in summary["detail"]
    assert pd.read_parquet(tmp_path / "p.parquet").empty
    with pytest.raises(RuntimeError, match="required"):
        clip_zero_shot(color_dataset, {**spec, "required": True}, ZERO_SHOT, tmp_path / "p2.parquet",
                       tmp_path / "s2.json", {"model": "clip_rn50", "dataset": "colors"})
    assert not (tmp_path / "s2.json").exists()


def test_a_checkpoint_with_the_wrong_checksum_is_refused(tmp_path):
    checkpoint = tmp_path / "RN50.pt"
    torch.save({"w": torch.zeros(2)}, checkpoint)
    spec = ClipModelSpec("RN50", "openai", checkpoint=str(checkpoint), sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="refusing"):
        load_clip_model(spec)


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: .*open_clip"):
        load_clip_model(ClipModelSpec("RN50", "openai", backend="nope"))


def test_clip_reads_the_released_table_the_diffusion_rows_read(color_dataset, tmp_path):
    """Where a dataset has the authors' prompt table, CLIP's class texts are that table's, word for word
    (Pets' table says "a photo of a pug, a type of dog." where the template says "..., a type of pet.")."""
    from diffusion_classifier.data import load_dataset
    from diffusion_classifier.models.prompts import PromptSpec, class_prompts as diffusion_prompts
    from diffusion_classifier.stages.baselines import _clip_texts

    table = tmp_path / "colors_prompts.csv"
    pd.DataFrame({"prompt": ["a photo of a red, a type of cat.", "a photo of a green, a type of dog.",
                             "a photo of a blue, a type of dog."],
                  "classname": ["red", "green", "blue"], "classidx": [0, 1, 2]}).to_csv(table, index=False)
    prompt = {"table": str(table), "identical_prompts": []}
    dataset = load_dataset(color_dataset)
    _, clip_texts = _clip_texts(dataset, "a photo of a {}, a type of pet.", prompt)
    assert clip_texts == diffusion_prompts(dataset.class_table, PromptSpec(table=str(table)))["prompt"].tolist()
    assert clip_texts[0].endswith("a type of cat.")
    summary = clip_zero_shot(color_dataset, clip_standin.spec("colors"), ZERO_SHOT, tmp_path / "p.parquet",
                             tmp_path / "s.json", {"model": "stand_in", "dataset": "colors"}, prompt=prompt)
    assert summary["prompt_template"] == "released table colors_prompts.csv"
    # Without a table (the embedded digits), the zero-shot template as before.
    assert _clip_texts(dataset, "a photo of a {}.", {"template": "x {}"})[1][0] == "a photo of a red."
