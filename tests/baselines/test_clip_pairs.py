"""CLIP on caption-pair examples: its similarities, scored and summarised as every scorer is."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from diffusion_classifier.baselines import clip_pair_scores, load_clip_model
from diffusion_classifier.specs import ClipModelSpec
from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.stages.baselines import clip_winoground

from helpers import clip_standin


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
    subsets = {row["subset"]: row for row in summary["subsets"]}
    assert subsets["all"]["text"] == 0.5 and subsets["collapsed_tag=Relation"]["text"] == 1.0
    # The same per-example table as the diffusion classifier's (compositional.example_scores).
    assert list(per.columns) == ["id", "tag", "secondary_tag", "collapsed_tag", "caption_0", "caption_1",
                                 "score_c0_i0", "score_c1_i0", "score_c0_i1", "score_c1_i1", "text", "image", "group"]


def test_clip_pair_scores_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    images = {f"i{k}": Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)) for k in range(6)}
    examples = pd.DataFrame({"id": range(3), "caption_0": ["a dog on a cat", "x y", "one two three"],
                             "caption_1": ["a cat on a dog", "y x", "three two one"],
                             "image_0": ["i0", "i2", "i4"], "image_1": ["i1", "i3", "i5"],
                             "collapsed_tag": ["Object", "Both", "Relation"]})
    clip = load_clip_model(ClipModelSpec(**clip_standin.spec("random", "2")))
    scores = clip_pair_scores(clip, examples, images.__getitem__, batch_size=2)
    assert len(scores) == 12 and list(scores.columns) == ["image_id", "caption", "score"]
    lookup = {(r.image_id, r.caption): r.score for r in scores.itertuples()}
    for _, row in examples.iterrows():
        for c in range(2):
            for i in range(2):
                t = clip.embed_texts([row[f"caption_{c}"]])[0].numpy()
                v = clip.embed_images([images[row[f"image_{i}"]]])[0].numpy()
                assert lookup[(row[f"image_{i}"], c)] == pytest.approx(float(t @ v), abs=1e-5)
