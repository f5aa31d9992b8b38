"""Winoground's text / image / group outcomes (paper Eq. 9) and their summary: one rule for every scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffusion_classifier.compositional import example_scores, outcomes, pair_scores, summarise_examples

from helpers.native_formats import winoground_fields


def test_outcomes_of_hand_worked_score_matrices():
    # [caption, image]; caption i belongs to image i.
    sims = np.array([
        [[0.9, 0.1], [0.2, 0.8]],   # both images prefer their caption, both captions their image
        [[0.9, 0.8], [0.2, 0.1]],   # text: 0.9 > 0.2 but 0.1 < 0.8 -> 0; image: 0.9 > 0.8, 0.1 < 0.2 -> 0
        [[0.5, 0.4], [0.3, 0.6]],   # text: .5 > .3 and .6 > .4 -> 1; image: .5 > .4 and .6 > .3 -> 1
        [[0.6, 0.2], [0.7, 0.9]],   # text: .6 < .7 -> 0; image: .6 > .2 and .9 > .7 -> 1
        [[0.5, 0.5], [0.5, 0.5]],   # ties fail everything
    ])
    result = outcomes(sims)
    assert result["text"].tolist() == [True, False, True, False, False]
    assert result["image"].tolist() == [True, False, True, True, False]
    assert result["group"].tolist() == [True, False, True, False, False]
    with pytest.raises(ValueError, match="shape"):
        outcomes(np.zeros((2, 3, 2)))


def test_scores_follow_the_winoground_definitions():
    examples = pd.DataFrame([{**winoground_fields(i), "id": str(i), "image_0": f"{i}-0", "image_1": f"{i}-1"} for i in range(3)])
    # (image, caption) -> mean error; lower error = higher score.
    errors = {
        "0-0": (1.0, 2.0), "0-1": (2.0, 1.0),  # both images prefer their caption; captions prefer their image
        "1-0": (1.0, 2.0), "1-1": (1.0, 2.0),  # caption 0 wins on both images: text fails
        "2-0": (1.0, 2.0), "2-1": (0.5, 0.4),  # text holds, but caption 0 prefers image 1: image fails
    }
    rows = [{"image_id": image, "condition": c, "error_l2": e} for image, pair in errors.items()
            for c, e in enumerate(pair)]
    outcomes = example_scores(examples, pair_scores(pd.DataFrame(rows), "l2"))
    assert outcomes["text"].tolist() == [True, False, True]
    assert outcomes["image"].tolist() == [True, False, False]
    assert outcomes["group"].tolist() == [True, False, False]
    summary = {row["subset"]: row for row in summarise_examples(outcomes)}
    assert summary["all"]["text"] == pytest.approx(2 / 3) and summary["collapsed_tag=Relation"]["text"] == 0.0
    assert summary["collapsed_tag=Object"]["examples"] == 1
