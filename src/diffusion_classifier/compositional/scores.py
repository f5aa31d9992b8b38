"""Winoground's text, image and group scores: the one home of paper Eq. 9.

Every scorer of caption-pair examples (the diffusion classifier, the CLIP baselines
of Table 3, the contrastive baseline) gives a table ``image_id, caption, score`` and
gets its per-example outcomes from :func:`example_scores` and its summary from
:func:`summarise_examples`.

For a caption C and an image I the diffusion model's score is minus the mean
eps-prediction error of I conditioned on C, over the evaluated (t, eps) pairs
(paper Sec. 6.2). For an example ((C0, I0), (C1, I1)) (Thrush et al., 2022;
paper Eq. 9):

* text score  = s(C0, I0) > s(C1, I0)  and  s(C1, I1) > s(C0, I1)
* image score = s(C0, I0) > s(C0, I1)  and  s(C1, I1) > s(C1, I0)
* group score = text and image

The text score compares two captions on the *same* image, noise and timesteps:
the paired comparison the classifier is built on. The image score compares one
caption across two images, whose errors also differ by how hard each image is to
denoise, so it is reported but is not what the diffusion classifier is good at.
Chance levels: 25%, 25% and 1/6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..artifacts.store import ERROR_PREFIX
from ..robustness import clopper_pearson

__all__ = ["CHANCE", "outcomes", "pair_scores", "example_scores", "summarise_examples"]

CHANCE = {"text": 0.25, "image": 0.25, "group": 1.0 / 6.0}


def pair_scores(errors: pd.DataFrame, loss: str) -> pd.DataFrame:
    """Score of every (image, caption slot): minus the mean error over its pairs.

    Args:
        errors: Per-pair error store rows (image_id, condition, error_<loss>, ...).
        loss: The objective whose errors define the score (``l2`` for Winoground).
    """
    column = ERROR_PREFIX + loss
    if column not in errors:
        raise ValueError(f"the error store has no {column!r} column; objectives stored: "
                         f"{[c.removeprefix(ERROR_PREFIX) for c in errors if c.startswith(ERROR_PREFIX)]}")
    grouped = errors.groupby(["image_id", "condition"], observed=True)[column].agg(["mean", "size"])
    out = grouped.reset_index().rename(columns={"condition": "caption", "size": "pairs"})
    out["score"] = -out["mean"].astype(np.float64)
    return out.drop(columns="mean")


def outcomes(s: np.ndarray) -> dict[str, np.ndarray]:
    """Eq. 9: text, image and group outcome of scores ``s[..., caption, image]``.

    Strict inequalities: a tie fails, so a constant scorer gets 0.
    """
    s = np.asarray(s, dtype=np.float64)
    if s.shape[-2:] != (2, 2):
        raise ValueError(f"scores must end in [caption, image] = [2, 2], got shape {s.shape}")
    text = (s[..., 0, 0] > s[..., 1, 0]) & (s[..., 1, 1] > s[..., 0, 1])
    image = (s[..., 0, 0] > s[..., 0, 1]) & (s[..., 1, 1] > s[..., 1, 0])
    return {"text": text, "image": image, "group": text & image}


def example_scores(examples: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per example: the four scores s(Ci, Ij) and its text / image / group outcome.

    Args:
        examples: Caption-pair examples (:func:`..data.pairs.load_examples`): ``image_0`` /
            ``image_1`` are manifest image ids.
        scores: ``image_id, caption, score`` of every example image with both of its
            captions, from any scorer (the diffusion classifier's :func:`pair_scores`,
            a CLIP model, the contrastive baseline).
    """
    lookup = {(str(i), int(c)): float(s) for i, c, s in zip(scores["image_id"], scores["caption"], scores["score"])}
    rows = []
    for example in examples.itertuples(index=False):
        s = np.zeros((2, 2))  # [caption, image]
        for image_slot in (0, 1):
            image_id = str(getattr(example, f"image_{image_slot}"))
            for caption in (0, 1):
                if (image_id, caption) not in lookup:
                    raise ValueError(f"example {example.id!r}: image {image_id!r} was not scored against "
                                     f"caption {caption}; re-run its score_pairs shard")
                s[caption, image_slot] = lookup[(image_id, caption)]
        result = outcomes(s)
        rows.append({"id": str(example.id), "tag": example.tag, "secondary_tag": example.secondary_tag,
                     "collapsed_tag": example.collapsed_tag, "caption_0": example.caption_0,
                     "caption_1": example.caption_1,
                     **{f"score_c{c}_i{i}": float(s[c, i]) for i in (0, 1) for c in (0, 1)},
                     **{k: bool(v) for k, v in result.items()}})
    return pd.DataFrame(rows)


def _rates(frame: pd.DataFrame) -> dict:
    n = len(frame)
    out: dict = {"examples": n}
    for name in ("text", "image", "group"):
        k = int(frame[name].sum())
        low, high = clopper_pearson(k, n)
        out.update({name: k / n, f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)})
    return out


def summarise_examples(frame: pd.DataFrame, group_by: tuple[str, ...] = ("collapsed_tag",)) -> list[dict]:
    """Scores overall (subset ``all``) and per value of each ``group_by`` column."""
    if frame.empty:
        raise ValueError("no scored examples to summarise")
    rows = [{"subset": "all", **_rates(frame)}]
    for column in group_by:
        if column not in frame:
            raise ValueError(f"cannot group by {column!r}: examples have {list(frame.columns)}")
        for value, part in frame.groupby(column, sort=True):
            rows.append({"subset": f"{column}={value}", **_rates(part)})
    return rows
