"""Captioned digits: a leak-free corpus, a Winoground-style test split, and a text model trained on it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from diffusion_classifier.data import load_dataset, prepare_dataset
from diffusion_classifier.data.pairs import load_captions, load_examples
from diffusion_classifier.models import TextConditionalPredictor, load_predictor
from diffusion_classifier.stages.train import train_model

OPTIONS = {"image_size": 16, "test_fraction": 0.2, "seed": 0, "pairs_per_order": 1, "unseen_combinations": 5,
           "test_examples_per_combination": 1, "max_singles": 60}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return load_dataset(prepare_dataset("digit_captions", tmp_path_factory.mktemp("dc") / "data", **OPTIONS))


def test_corpus_uses_train_digits_only_and_holds_out_combinations(corpus, tmp_path):
    digits = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=16,
                                          test_fraction=0.2, seed=0))
    test_ids = {int(i.split("-")[1]) for i in digits.split("test")["image_id"]}
    train_ids = {int(i.split("-")[1]) for i in digits.split("train")["image_id"]}
    used = {int(n) for image_id in corpus.split("train")["image_id"] for n in re.findall(r"\d{4}", image_id)}
    assert used and used <= train_ids and not used & test_ids
    sources = {int(n) for s in load_examples(corpus)["sources"] for n in s.split(",")}
    assert sources <= test_ids

    unseen = {tuple(c) for c in corpus.metadata["unseen_combinations"]}
    captions = load_captions(corpus)
    pair_digits = {tuple(sorted(map(int, re.findall(r"\b\d\b", c)))) for c in captions["caption"] if "left" in c
                   or "right" in c}
    assert len(unseen) == 5 and not pair_digits & unseen and len(pair_digits) == 45 - 5


def test_test_split_is_winoground_shaped(corpus):
    examples = load_examples(corpus, "test")
    assert len(examples) == 45 and set(examples["collapsed_tag"]) == {"Object"}
    assert examples["tag"].value_counts().to_dict() == {"seen": 40, "unseen": 5}
    for row in examples.itertuples():
        assert sorted(row.caption_0.split()) == sorted(row.caption_1.split()) and row.caption_0 != row.caption_1
        assert row.caption_0.startswith("the ") and "digit" not in row.caption_0  # the held-out template
    row = examples.iloc[0]
    left = np.asarray(Image.open(corpus.root / corpus.manifest.set_index("image_id").loc[row["image_0"], "path"]))
    assert left.shape == (16, 16) and left[:4].max() == 0 and left[4:12].max() > 0  # two 8x8 digits in a row


def test_test_captions_are_held_out_but_put_the_digits_where_training_pairs_do(corpus):
    # The tiny text model binds a digit to its side by the digit's word position (config/mini.yaml measures
    # it): a held-out template that moves the digits measures the tokenizer's positions, not word order.
    def digit_positions(caption: str) -> tuple[int, ...]:
        return tuple(k for k, word in enumerate(caption.split()) if word.isdigit())

    pairs = [c for c in load_captions(corpus)["caption"] if len(digit_positions(c)) == 2]
    assert pairs and all(" left of " in c for c in pairs)  # one relation: word order alone says which is left
    trained = {digit_positions(c) for c in pairs}
    examples = load_examples(corpus, "test")
    assert not set(examples["caption_0"]) & set(pairs)  # held out
    assert {digit_positions(c) for c in examples["caption_0"]} <= trained


def _digits_in_picture(pixels: np.ndarray, known: dict[bytes, int]) -> tuple[int, int]:
    """(left digit, right digit) of a pair canvas, read off its pixels by exact lookup in sklearn's digits."""
    return known[pixels[4:12, 0:8].tobytes()], known[pixels[4:12, 8:16].tobytes()]


def test_an_oracle_that_reads_the_pictures_scores_100_percent(corpus):
    # Orientation check from image pixels to the table: an oracle that reads each picture's digits (pixels
    # looked up in sklearn's digits, not the example's metadata) and each caption's word order, scored through
    # the prompt table's slots, the error store's shape and Eq. 9, must pass every example. A swap anywhere
    # (image_0 holding caption_1's picture, prompt slots reversed, s[caption, image] transposed) fails it.
    from sklearn.datasets import load_digits

    from diffusion_classifier.compositional import example_scores, pair_scores, summarise_examples
    from diffusion_classifier.models.prompts import caption_prompts

    digits = load_digits()
    pixels = np.clip(digits.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    known: dict[bytes, int] = {}
    for image, label in zip(pixels, digits.target):
        assert known.setdefault(image.tobytes(), int(label)) == int(label)  # no drawing under two labels
    examples = load_examples(corpus, "test")
    paths = corpus.manifest.set_index("image_id")["path"]
    prompts = caption_prompts(examples).set_index(["example_id", "slot"])["prompt"]
    rows = []
    for example in examples.itertuples():
        for slot in (0, 1):
            image_id = getattr(example, f"image_{slot}")
            drawn = _digits_in_picture(np.asarray(Image.open(corpus.root / paths[image_id])), known)
            for condition in (0, 1):  # the condition index is the prompt table's slot
                said = tuple(int(d) for d in re.fullmatch(r"the (\d) left of the (\d)",
                                                           prompts[(example.id, condition)]).groups())
                rows.append({"image_id": image_id, "condition": condition, "error_l2": float(said != drawn)})
    outcomes = example_scores(examples, pair_scores(pd.DataFrame(rows), "l2"))
    overall = summarise_examples(outcomes)[0]
    assert overall["examples"] == len(examples) and overall["text"] == overall["image"] == overall["group"] == 1.0


def test_text_model_trains_and_loads_through_the_sd_adapter(corpus, tmp_path):
    model = {"adapter": "stable_diffusion", "image": {"size": 16, "channels": 1, "resample": "bilinear"},
             "train_dataset": "digit_captions",
             "train": {"architecture_kwargs": {"block_out_channels": [8, 16], "attention_head_dim": 4},
                       "text_hidden_size": 16, "text_intermediate_size": 32, "text_heads": 2, "steps": 3,
                       "batch_size": 4, "log_every": 1}}
    out = train_model(corpus.root, model, "tiny_text", tmp_path / "model")
    assert {p.name for p in out.iterdir()} >= {"unet", "text_encoder", "tokenizer", "scheduler", "train_log.csv"}
    assert not (out / "vae").exists()
    predictor = load_predictor("stable_diffusion", out)
    assert isinstance(predictor, TextConditionalPredictor) and predictor.max_length == 16
    tokens = predictor.tokenizer.convert_ids_to_tokens(predictor.tokenizer("a picture of a 3 left of a 7").input_ids)
    assert tokens[1:-1] == [w + "</w>" for w in "a picture of a 3 left of a 7".split()]  # one token per word
    words = ["left", "the", *map(str, range(10))]
    ids = [predictor.tokenizer(w).input_ids[1:-1] for w in words]
    assert all(len(i) == 1 for i in ids) and len({i[0] for i in ids}) == len(words)  # distinct single tokens
    # Word order reaches the UNet only through the token states (cross-attention is a set operation over
    # them): swapped captions must give different states from the first swapped word on.
    swapped = predictor.encode_prompts(["the 3 left of the 7", "the 7 left of the 3"])
    assert swapped.shape == (2, 16, 16)  # every token state, not a pooled vector
    assert not torch.allclose(swapped[0, 2:], swapped[1, 2:], atol=1e-4)
    table = predictor.encode_prompts(["a 3", "a 7"])
    assert table.shape == (2, 16, 16)
    x = torch.zeros(2, 1, 16, 16)
    first = predictor.predict(x, torch.tensor([5, 5]), table).eps
    assert torch.equal(first, predictor.predict(x, torch.tensor([5, 5]), table).eps)
    with pytest.raises(ValueError, match="no trainer builds"):
        train_model(corpus.root, {**model, "adapter": "nope"}, "x", tmp_path / "other")


def test_figure5_draws_the_first_examples_of_every_tag(corpus, tmp_path):
    from diffusion_classifier.reporting.pair_examples import choose_examples
    from diffusion_classifier.stages.zeroshot import figure_pair_examples

    examples = load_examples(corpus, "test")
    mixed = examples.assign(collapsed_tag=["Relation" if i % 3 == 0 else "Object" for i in range(len(examples))])
    chosen = choose_examples(mixed, per_tag=2)
    assert list(chosen["collapsed_tag"]) == ["Object", "Object", "Relation", "Relation"]
    assert list(chosen["id"][:2]) == sorted(mixed.loc[mixed["collapsed_tag"] == "Object", "id"])[:2]
    with pytest.raises(ValueError, match="no 'family' column"):
        choose_examples(examples, 2, tag_column="family")

    out = figure_pair_examples(corpus.root, tmp_path / "fig5.png", per_tag=3)
    assert out.read_bytes()[:4] == b"\x89PNG"
