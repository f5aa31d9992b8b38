"""Winoground text, image and group scores from caption-image scores (paper Table 3).

An example holds two captions (same words, different order) and two images; caption i
belongs to image i. With ``s[c, i]`` the score of caption c with image i (Thrush et al.,
2022; paper Eq. 9):

* text score = 1 iff s[0,0] > s[1,0] and s[1,1] > s[0,1] (each image prefers its caption),
* image score = 1 iff s[0,0] > s[0,1] and s[1,1] > s[1,0] (each caption prefers its image),
* group score = text and image.

Ties count as failures (strict inequalities), so a constant scorer gets 0. Scores are
reported per ``collapsed_tag`` (Object, Relation, Both) and over all examples.

The scoring works on a plain table with :data:`WINOGROUND_COLUMNS`; reading the gated
dataset into that table is the Winoground reader's job.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm.auto import tqdm

from .clip_models import ClipModel

__all__ = ["WINOGROUND_COLUMNS", "TAGS", "example_scores", "winoground_table", "clip_similarities"]

#: Columns of the example table: captions are text, images anything ``load_image`` opens.
WINOGROUND_COLUMNS = ("id", "caption_0", "caption_1", "image_0", "image_1", "collapsed_tag")
TAGS = ("Object", "Relation", "Both")
SCORES = ("text", "image", "group")


def example_scores(similarity: np.ndarray) -> pd.DataFrame:
    """Per-example text, image and group scores.

    Args:
        similarity: Array [N, 2, 2] indexed ``[example, caption, image]``.

    Returns:
        Boolean columns ``text``, ``image``, ``group``, one row per example.
    """
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 3 or s.shape[1:] != (2, 2):
        raise ValueError(f"similarity must have shape [N, 2, 2] (example, caption, image), got {s.shape}")
    text = (s[:, 0, 0] > s[:, 1, 0]) & (s[:, 1, 1] > s[:, 0, 1])
    image = (s[:, 0, 0] > s[:, 0, 1]) & (s[:, 1, 1] > s[:, 1, 0])
    return pd.DataFrame({"text": text, "image": image, "group": text & image})


def winoground_table(per_example: pd.DataFrame) -> pd.DataFrame:
    """Scores (%) per swap type and overall.

    Args:
        per_example: ``collapsed_tag`` plus the boolean columns of :func:`example_scores`.

    Returns:
        One row per tag present (in :data:`TAGS` order) and ``All``; columns ``tag``, ``n``,
        ``text``, ``image``, ``group``.
    """
    unknown = sorted(set(per_example["collapsed_tag"]) - set(TAGS))
    if unknown:
        raise ValueError(f"unknown collapsed_tag value(s) {unknown}; expected {list(TAGS)}")
    rows = []
    groups = [(tag, per_example[per_example["collapsed_tag"] == tag]) for tag in TAGS]
    for tag, part in [*groups, ("All", per_example)]:
        if part.empty:
            continue
        rows.append({"tag": tag, "n": len(part), **{k: 100.0 * float(part[k].mean()) for k in SCORES}})
    return pd.DataFrame(rows)


def clip_similarities(
    clip: ClipModel,
    examples: pd.DataFrame,
    load_image: Callable[[object], Image.Image],
    batch_size: int = 16,
) -> np.ndarray:
    """Cosine similarities [N, 2, 2] (example, caption, image) of every example.

    Args:
        clip: The loaded model.
        examples: Table with :data:`WINOGROUND_COLUMNS`.
        load_image: Opens the value of an ``image_0`` / ``image_1`` cell.
        batch_size: Examples per forward pass.
    """
    missing = [c for c in WINOGROUND_COLUMNS if c not in examples.columns]
    if missing:
        raise KeyError(f"Winoground table lacks column(s) {missing}; expected {list(WINOGROUND_COLUMNS)}")
    out = []
    for start in tqdm(range(0, len(examples), batch_size), desc=f"winoground {clip.model_id}", mininterval=5):
        part = examples.iloc[start:start + batch_size]
        captions = clip.embed_texts([*part["caption_0"], *part["caption_1"]])
        images = clip.embed_images([load_image(v) for v in [*part["image_0"], *part["image_1"]]])
        n = len(part)
        text = torch.stack([captions[:n], captions[n:]], dim=1)    # [n, caption, D]
        image = torch.stack([images[:n], images[n:]], dim=1)       # [n, image, D]
        out.append(torch.einsum("ncd,nid->nci", text, image).numpy())
    return np.concatenate(out) if out else np.zeros((0, 2, 2))
