"""Figure 5 of the paper: examples of a caption-pair (Winoground-format) dataset by swap type.

One row per collapsed tag (Winoground: Object, Relation, Both), ``per_tag`` examples
each: the two images of an example side by side with their captions, the swapped words
in the same order as the dataset gives them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pandas as pd
from PIL import Image

from .figures import pyplot, save_figure

__all__ = ["choose_examples", "plot_pair_examples"]


def choose_examples(examples: pd.DataFrame, per_tag: int, tag_column: str = "collapsed_tag") -> pd.DataFrame:
    """The first ``per_tag`` examples (by id) of every tag, tags in sorted order."""
    if tag_column not in examples.columns:
        raise ValueError(f"the examples have no {tag_column!r} column; columns: {list(examples.columns)}")
    ordered = examples.sort_values([tag_column, "id"], kind="stable")
    return ordered.groupby(tag_column, sort=True).head(per_tag).reset_index(drop=True)


def plot_pair_examples(chosen: pd.DataFrame, load_image: Callable[[str], Image.Image], target: str | Path,
                       title: str, tag_column: str = "collapsed_tag") -> None:
    """Draw each chosen example as two images with their captions; one row per tag."""
    tags = list(dict.fromkeys(chosen[tag_column]))
    per_row = int(chosen.groupby(tag_column).size().max())
    plt = pyplot()
    fig, axes = plt.subplots(len(tags), 2 * per_row, figsize=(2.2 * 2 * per_row, 2.6 * len(tags)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")  # panels without an example stay blank
    for r, tag in enumerate(tags):
        for k, example in enumerate(chosen[chosen[tag_column] == tag].itertuples(index=False)):
            for slot in (0, 1):
                ax = axes[r][2 * k + slot]
                ax.axis("on")
                ax.set(xticks=[], yticks=[])
                image = load_image(getattr(example, f"image_{slot}"))
                ax.imshow(image, cmap="gray" if image.mode == "L" else None)
                # The caption as the x label, so that tight_layout makes room for it.
                ax.set_xlabel(textwrap.fill(getattr(example, f"caption_{slot}"), 28), fontsize=7)
                ax.set_title(f"{tag} #{example.id}" if slot == 0 else "", fontsize=8, loc="left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, target)
