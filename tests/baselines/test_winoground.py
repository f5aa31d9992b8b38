"""Winoground text / image / group scores: hand-worked matrices, ties, the CLIP similarities."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from diffusion_classifier.baselines import ClipModelSpec, clip_similarities, example_scores, load_clip_model
from diffusion_classifier.baselines import winoground_table
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.stages.baselines import clip_winoground

from helpers import clip_standin


def test_scores_of_hand_worked_examples():
    # [caption, image]; caption i belongs to image i.
    sims = np.array([
        [[0.9, 0.1], [0.2, 0.8]],   # both images prefer their caption, both captions their image
        [[0.9, 0.8], [0.2, 0.1]],   # text: 0.9 > 0.2 but 0.1 < 0.8 -> 0; image: 0.9 > 0.8, 0.1 < 0.2 -> 0
        [[0.5, 0.4], [0.3, 0.6]],   # text: .5 > .3 and .6 > .4 -> 1; image: .5 > .4 and .6 > .3 -> 1
        [[0.6, 0.2], [0.7, 0.9]],   # text: .6 < .7 -> 0; image: .6 > .2 and .9 > .7 -> 1
        [[0.5, 0.5], [0.5, 0.5]],   # ties fail everything
    ])
    scores = example_scores(sims)
    assert scores["text"].tolist() == [True, False, True, False, False]
    assert scores["image"].tolist() == [True, False, True, True, False]
    assert scores["group"].tolist() == [True, False, True, False, False]

    scores["collapsed_tag"] = ["Object", "Object", "Relation", "Relation", "Both"]
    table = winoground_table(scores).set_index("tag")
    assert table.loc["Object", "text"] == 50.0 and table.loc["Relation", "image"] == 100.0
    assert table.loc["Both", "group"] == 0.0 and table.loc["All", "n"] == 5
    assert table.loc["All", "text"] == pytest.approx(40.0)
    with pytest.raises(ValueError, match="shape"):
        example_scores(np.zeros((2, 3, 2)))


def _png(rgb) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((2, 2, 3), rgb, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _prepared_winoground(root, captions, colors):
    """A Winoground copy in the hub's parquet layout, prepared by the real reader.

    The prepared ``examples.csv`` names images by manifest image id (``ex-000-img-0``),
    not by file name: the CLIP stage must open them through the manifest.
    """
    (root / "hub" / "data").mkdir(parents=True)
    rows = [{"id": k, "caption_0": c0, "caption_1": c1, "image_0": {"bytes": _png(rgb0), "path": None},
             "image_1": {"bytes": _png(rgb1), "path": None}, "tag": "Noun", "secondary_tag": "",
             "num_main_preds": 1, "collapsed_tag": ["Object", "Relation"][k % 2]}
            for k, ((c0, c1), (rgb0, rgb1)) in enumerate(zip(captions, colors))]
    pd.DataFrame(rows).to_parquet(root / "hub" / "data" / "test-00000-of-00001.parquet")
    return prepare_dataset("winoground", root / "prepared", local_dir=str(root / "hub"))


def test_a_bag_of_words_model_ties_on_swapped_captions(tmp_path):
    # Same words in another order embed identically in the bag-of-words stand-in: every
    # text score ties and fails, while images of different colours still separate.
    dataset = _prepared_winoground(tmp_path / "wg",
                                   [("red over blue", "blue over red"), ("a red thing", "a blue thing")],
                                   [((255, 0, 0), (0, 0, 255)), ((250, 0, 5), (5, 0, 250))])
    summary = clip_winoground(dataset, clip_standin.spec("colors"), {"models": ["c"], "dataset": "winoground",
                              "device": "cpu"}, tmp_path / "per.parquet", tmp_path / "s.json",
                              {"model": "c", "dataset": "winoground"})
    per = pd.read_parquet(tmp_path / "per.parquet")
    # Example 0: captions tie. Example 1: "red" and "blue" captions match their images.
    assert per["text"].tolist() == [False, True] and per["group"].tolist() == [False, True]
    assert per.loc[0, "score_c0_i0"] == pytest.approx(per.loc[0, "score_c1_i0"])
    scores = {row["tag"]: row for row in summary["scores"]}
    assert scores["All"]["text"] == 50.0 and scores["Relation"]["text"] == 100.0


def test_clip_similarities_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    images = {f"i{k}": Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)) for k in range(6)}
    examples = pd.DataFrame({"id": range(3), "caption_0": ["a dog on a cat", "x y", "one two three"],
                             "caption_1": ["a cat on a dog", "y x", "three two one"],
                             "image_0": ["i0", "i2", "i4"], "image_1": ["i1", "i3", "i5"],
                             "collapsed_tag": ["Object", "Both", "Relation"]})
    clip = load_clip_model(ClipModelSpec(**clip_standin.spec("random", "2")))
    sims = clip_similarities(clip, examples, images.__getitem__, batch_size=2)
    for k, row in examples.iterrows():
        for c in range(2):
            for i in range(2):
                t = clip.embed_texts([row[f"caption_{c}"]])[0].numpy()
                v = clip.embed_images([images[row[f"image_{i}"]]])[0].numpy()
                assert sims[k, c, i] == pytest.approx(float(t @ v), abs=1e-5)
