"""Seeded, recorded image subsets (ImageNet's 2,000 and 10,000, micro configs).

The paper evaluates 2,000 ImageNet validation images zero-shot and 10,000 in the
supervised runs without publishing which (paper Sec. 5.1-5.2). We draw them
class-balanced with a seed from the image ids in sorted order, so the draw depends on
nothing but the seed and the dataset, and write the chosen ids to
``subset_ids.txt`` beside the manifest (its sha256 goes into ``dataset.json``).
Passing that file back as ``subset_ids`` replays the exact selection, whatever the
seed: that is how a rerun on a new machine, or a baseline, picks the same images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DatasetError

__all__ = ["SubsetSpec", "SubsetRecord", "balanced_subset", "select_subset", "read_ids_file", "SUBSET_FILE"]

SUBSET_FILE = "subset_ids.txt"


@dataclass(frozen=True)
class SubsetSpec:
    """Which images of each split to keep.

    Attributes:
        size: Images per split (class-balanced); ``None`` keeps every image.
        seed: Seed of the draw.
        ids_file: A ``subset_ids.txt`` (one id per line) or a ``manifest.csv`` whose
            ``image_id`` column lists the images to keep; overrides ``size``/``seed``.
        splits: Splits the subset applies to; ``None``: every split.
    """

    size: int | None = None
    seed: int = 0
    ids_file: str | None = None
    splits: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.size is not None and self.size < 1:
            raise ValueError(f"subset_size must be a positive number of images, got {self.size}")

    @property
    def active(self) -> bool:
        return self.size is not None or self.ids_file is not None

    def applies_to(self, split: str) -> bool:
        return self.splits is None or split in self.splits


@dataclass(frozen=True)
class SubsetRecord:
    """What a subset kept: the ids (for ``subset_ids.txt``) and how they were chosen."""

    ids: tuple[str, ...]
    provenance: dict

    def write(self, out_dir: Path) -> None:
        (Path(out_dir) / SUBSET_FILE).write_text("".join(f"{i}\n" for i in self.ids))


def balanced_subset(records: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """``size`` rows of one split, as even across labels as the counts allow.

    Each label gets ``size // C`` images (``C`` = labels present) and ``size % C``
    labels, drawn with the seed, get one more. Ids are sorted before drawing so the
    result does not depend on the order files were listed in.
    """
    if size >= len(records):
        return records.sort_values("image_id", kind="stable")
    rng = np.random.default_rng(seed)
    labels = np.sort(records["label"].unique())
    base, extra = divmod(size, len(labels))
    lucky = set(rng.choice(labels, size=extra, replace=False).tolist()) if extra else set()
    picked = []
    for label in labels:
        ids = np.sort(records.loc[records["label"] == label, "image_id"].to_numpy())
        quota = base + (label in lucky)
        if quota > len(ids):
            raise DatasetError(
                f"class {label} has only {len(ids)} images but a balanced subset of {size} "
                f"needs {quota} from each class; lower subset_size"
            )
        picked.extend(ids[rng.permutation(len(ids))[:quota]].tolist())
    chosen = set(picked)
    return records[records["image_id"].isin(chosen)].sort_values("image_id", kind="stable")


def read_ids_file(path: str | Path) -> list[str]:
    """Image ids from a ``subset_ids.txt`` or a ``manifest.csv``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"subset_ids file {path} does not exist; pass the subset_ids.txt of the "
                           "earlier preparation (or its manifest.csv)")
    if path.suffix == ".csv":
        table = pd.read_csv(path, dtype={"image_id": str})
        if "image_id" not in table.columns:
            raise DatasetError(f"{path} has no image_id column; pass a manifest.csv or a subset_ids.txt")
        return table["image_id"].tolist()
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def select_subset(records: pd.DataFrame, spec: SubsetSpec) -> tuple[pd.DataFrame, SubsetRecord | None]:
    """Apply ``spec`` to ``records`` (columns ``image_id, label, split``).

    Returns:
        The kept rows and what to record (``None`` when every image is kept).
    """
    if not spec.active:
        return records, None
    if spec.ids_file is not None:
        wanted = read_ids_file(spec.ids_file)
        unknown = sorted(set(wanted) - set(records["image_id"]))
        if unknown:
            raise DatasetError(
                f"{spec.ids_file} lists {len(unknown)} image ids this dataset does not have "
                f"(first: {unknown[:3]}); it belongs to another dataset or version"
            )
        kept = records[records["image_id"].isin(set(wanted)) | ~records["split"].map(spec.applies_to)]
        how = {"method": "replayed from an ids file", "replayed_from": str(spec.ids_file)}
    else:
        parts = [
            balanced_subset(rows, spec.size, spec.seed) if spec.applies_to(split) else rows
            for split, rows in records.groupby("split", sort=True)
        ]
        kept = pd.concat(parts) if parts else records
        how = {"method": "class-balanced, seeded", "size_per_split": spec.size, "seed": spec.seed}
    ids = sorted(kept.loc[kept["split"].map(spec.applies_to), "image_id"])
    how.update({"splits": list(spec.splits) if spec.splits else "all", "num_images": len(ids),
                "ids_sha256": ids_digest(ids), "ids_file": SUBSET_FILE})
    return kept, SubsetRecord(tuple(ids), how)


def ids_digest(ids: list[str]) -> str:
    """sha256 of the sorted ids, one per line: equal for equal selections."""
    return hashlib.sha256(("\n".join(sorted(ids)) + "\n").encode()).hexdigest()
