"""Caption-pair datasets (Winoground format) and captioned training corpora.

A caption-pair dataset is a prepared dataset (manifest.csv, classes.csv,
dataset.json) plus ``examples.csv``, one row per example in Winoground's fields::

    id, image_0, image_1, caption_0, caption_1, tag, secondary_tag, num_main_preds,
    collapsed_tag

where ``image_0`` / ``image_1`` are image ids of the manifest. Its two "classes" are
the caption slots, and an image's label is the slot of its own caption (``image_k``
belongs with ``caption_k``), so scoring an image against its example's two captions
is a two-way classification whose correct answer is its label.

The training data of a text-conditional model (a captioned corpus) is given by
``captions.csv`` (image_id, caption; several captions per image allowed), which a
dataset may ship beside its examples (``digit_captions`` does, for its train split).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import DatasetError
from .manifest import PreparedDataset, write_dataset

__all__ = [
    "EXAMPLE_COLUMNS",
    "CAPTION_SLOTS",
    "write_pair_dataset",
    "is_caption_pairs",
    "load_examples",
    "load_captions",
]

EXAMPLE_COLUMNS = ("id", "image_0", "image_1", "caption_0", "caption_1", "tag", "secondary_tag",
                   "num_main_preds", "collapsed_tag")
CAPTION_SLOTS = ("caption_0", "caption_1")
PAIRS_TASK = "caption_pairs"


def write_pair_dataset(root: str | Path, manifest: pd.DataFrame, examples: pd.DataFrame, metadata: dict,
                       captions: pd.DataFrame | None = None) -> Path:
    """Write ``examples.csv`` (and ``captions.csv`` for a corpus split) and the manifest files.

    Args:
        root: The dataset folder; images must already be in place.
        manifest: Manifest rows of every image (examples' and corpus').
        examples: Winoground-format examples; extra columns are kept after the standard ones.
        metadata: Preparation settings for ``dataset.json``.
        captions: ``image_id, caption`` rows of corpus images (training data), if any.
    """
    root = Path(root)
    missing = [c for c in EXAMPLE_COLUMNS if c not in examples.columns]
    if missing:
        raise DatasetError(f"examples of {root} lack Winoground field(s) {missing}")
    _check_examples(examples, set(manifest["image_id"]), root / "examples.csv")
    if captions is not None:
        if list(captions.columns[:2]) != ["image_id", "caption"]:
            raise DatasetError(f"captions of {root} need columns image_id, caption; got {list(captions.columns)}")
        unknown = set(captions["image_id"]) - set(manifest["image_id"])
        if unknown:
            raise DatasetError(f"captions of {root} name image(s) not in the manifest, e.g. {sorted(unknown)[0]!r}")
        captions.to_csv(root / "captions.csv", index=False)
    extra = [c for c in examples.columns if c not in EXAMPLE_COLUMNS]
    examples.loc[:, [*EXAMPLE_COLUMNS, *extra]].to_csv(root / "examples.csv", index=False)
    return write_dataset(root, manifest, list(CAPTION_SLOTS), {**metadata, "task": PAIRS_TASK})


def _check_examples(examples: pd.DataFrame, image_ids: set[str], where: Path) -> None:
    if examples["id"].duplicated().any():
        raise DatasetError(f"{where}: example id {examples.loc[examples['id'].duplicated(), 'id'].iloc[0]!r} repeats")
    for column in ("image_0", "image_1"):
        unknown = set(examples[column].astype(str)) - image_ids
        if unknown:
            raise DatasetError(f"{where}: {column} names image(s) not in the manifest, e.g. {sorted(unknown)[0]!r}")
    empty = examples[(examples["caption_0"].fillna("") == "") | (examples["caption_1"].fillna("") == "")]
    if not empty.empty:
        raise DatasetError(f"{where}: example {empty['id'].iloc[0]!r} has an empty caption")


def is_caption_pairs(dataset: PreparedDataset) -> bool:
    """Whether ``dataset`` is a caption-pair (Winoground-format) dataset."""
    return (dataset.root / "examples.csv").exists()


def load_examples(dataset: PreparedDataset, split: str | None = None) -> pd.DataFrame:
    """The examples of a caption-pair dataset (of one split when ``split`` is given)."""
    path = dataset.root / "examples.csv"
    if not path.exists():
        raise DatasetError(
            f"{path} is missing: {dataset.root} is not a caption-pair dataset (Winoground format); "
            "compositional runs need a dataset whose source writes examples.csv (winoground, digit_captions)"
        )
    examples = pd.read_csv(path, dtype={"id": str, "image_0": str, "image_1": str, "caption_0": str,
                                        "caption_1": str, "tag": str, "secondary_tag": str, "collapsed_tag": str},
                           keep_default_na=False)
    _check_examples(examples, set(dataset.manifest["image_id"]), path)
    if split is not None:
        ids = set(dataset.split(split)["image_id"])
        examples = examples[examples["image_0"].isin(ids) & examples["image_1"].isin(ids)]
        if examples.empty:
            raise DatasetError(f"{path}: no example has both images in split {split!r}")
    return examples.reset_index(drop=True)


def load_captions(dataset: PreparedDataset) -> pd.DataFrame:
    """``captions.csv`` of a captioned corpus: image_id, caption (one row per caption)."""
    path = dataset.root / "captions.csv"
    if not path.exists():
        raise DatasetError(
            f"{path} is missing: a text-conditional model trains on a captioned corpus "
            "(a dataset whose source writes captions.csv, e.g. digit_captions)"
        )
    return pd.read_csv(path, dtype={"image_id": str, "caption": str}, keep_default_na=False)
