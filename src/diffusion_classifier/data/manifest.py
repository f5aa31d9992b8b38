"""The on-disk form of every prepared dataset, at any scale.

A prepared dataset is a directory::

    manifest.csv    image_id, path, label, split, orig_width, orig_height, sha256
    classes.csv     index, name  (label order)
    dataset.json    name, source, counts per split, preparation settings, code version

``path`` is relative to the directory (or absolute, for large datasets read in
place). Every later rule (scoring, baselines, the filter audit) reads this one
format, so the embedded digits and ImageNet go through identical code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from ..artifacts.provenance import atomic_path, code_version, write_json

__all__ = ["MANIFEST_COLUMNS", "PreparedDataset", "write_dataset", "load_dataset", "DatasetError"]

MANIFEST_COLUMNS = ("image_id", "path", "label", "split", "orig_width", "orig_height", "sha256")


class DatasetError(ValueError):
    """A prepared dataset or one of its images is missing or malformed."""


def write_dataset(
    root: str | Path,
    manifest: pd.DataFrame,
    classes: Sequence[str],
    metadata: dict,
) -> Path:
    """Write ``manifest.csv``, ``classes.csv`` and ``dataset.json`` into ``root``.

    The images themselves must already be in place. ``dataset.json`` is written last,
    so its presence marks a complete dataset.
    """
    root = Path(root)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise DatasetError(f"manifest for {root} lacks columns {missing}")
    if not classes:
        raise DatasetError(f"dataset {root} has an empty class list")
    manifest = manifest.loc[:, list(MANIFEST_COLUMNS)].sort_values(["split", "image_id"], kind="stable")
    _validate(manifest, len(classes), root / "manifest.csv")
    with atomic_path(root / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False)
    with atomic_path(root / "classes.csv") as tmp:
        pd.DataFrame({"index": range(len(classes)), "name": list(classes)}).to_csv(tmp, index=False)
    counts = manifest["split"].value_counts().sort_index().to_dict()
    write_json(root / "dataset.json", {**metadata, "num_classes": len(classes), "counts": counts,
                                       "code_version": code_version()})
    return root


def _validate(manifest: pd.DataFrame, num_classes: int, where: Path) -> None:
    if manifest["image_id"].duplicated().any():
        dup = manifest.loc[manifest["image_id"].duplicated(), "image_id"].iloc[0]
        raise DatasetError(f"{where}: image_id {dup!r} appears twice; ids must be unique")
    labels = manifest["label"]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(
            f"{where}: labels span {labels.min()}..{labels.max()} but classes.csv names "
            f"{num_classes} classes; the class-name file must match the label count"
        )


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset in the manifest format, read back."""

    root: Path
    manifest: pd.DataFrame
    classes: list[str]
    metadata: dict

    @property
    def name(self) -> str:
        return self.metadata.get("name", self.root.name)

    def split(self, split: str) -> pd.DataFrame:
        """Rows of one split, in manifest order; an unknown split is an error."""
        rows = self.manifest[self.manifest["split"] == split]
        if rows.empty:
            known = sorted(self.manifest["split"].unique())
            raise DatasetError(f"{self.root}: no images in split {split!r}; splits present: {known}")
        return rows.reset_index(drop=True)

    def image_path(self, row: pd.Series) -> Path:
        path = Path(row["path"])
        return path if path.is_absolute() else self.root / path

    def load_image(self, row: pd.Series) -> Image.Image:
        """Open one image, with an error that names the file and the fix."""
        path = self.image_path(row)
        try:
            with Image.open(path) as image:
                image.load()
                return image
        except FileNotFoundError:
            raise DatasetError(
                f"image {row['image_id']!r} is missing: {path} does not exist; "
                f"re-run the download rule for {self.root} (delete the directory first)"
            ) from None
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetError(
                f"image {row['image_id']!r} at {path} cannot be decoded ({exc}); "
                "replace the file or remove it from the dataset and re-run the download rule"
            ) from None

    def iter_images(self, rows: pd.DataFrame) -> Iterator[tuple[pd.Series, Image.Image]]:
        for _, row in rows.iterrows():
            yield row, self.load_image(row)


def load_dataset(root: str | Path) -> PreparedDataset:
    """Read a prepared dataset directory; clear errors if it is incomplete."""
    root = Path(root)
    for name in ("dataset.json", "manifest.csv", "classes.csv"):
        if not (root / name).exists():
            raise DatasetError(
                f"{root / name} is missing: {root} is not a complete prepared dataset; "
                "run its download rule (snakemake ... download_dataset) to create it"
            )
    import json

    manifest = pd.read_csv(root / "manifest.csv", dtype={"image_id": str, "path": str, "split": str, "sha256": str})
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise DatasetError(f"{root / 'manifest.csv'} lacks columns {missing}; re-run the download rule")
    classes = pd.read_csv(root / "classes.csv", dtype={"name": str})["name"].tolist()
    if not classes:
        raise DatasetError(f"{root / 'classes.csv'} lists no classes")
    _validate(manifest, len(classes), root / "manifest.csv")
    metadata = json.loads((root / "dataset.json").read_text())
    return PreparedDataset(root, manifest, classes, metadata)


def image_to_array(image: Image.Image, mode: str) -> np.ndarray:
    """Convert to ``mode`` ('L' or 'RGB') and return HWC uint8."""
    return np.asarray(image.convert(mode))
