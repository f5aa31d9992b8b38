"""The on-disk form of every prepared dataset, at any scale.

A prepared dataset is a directory::

    manifest.csv    image_id, path, label, split, orig_width, orig_height, sha256
    classes.csv     index, name  (label order), optional extra columns:
                    class_ids (the model's class id(s) of each label class, ``;``-separated),
                    wnid, ... (see :mod:`diffusion_classifier.data.class_map`)
    dataset.json    name, source, counts per split, preparation settings, code version,
                    optional ``crop_border`` (pixels cut from every side when loading)

``path`` is relative to the directory (or absolute, for large datasets read in
place). ``orig_width``/``orig_height`` are the source file's size before any crop
or resize. Every later rule (scoring, baselines, the filter audit) reads this one
format, so the embedded digits and ImageNet go through identical code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd
from PIL import Image, UnidentifiedImageError

from ..artifacts.io import read_json, write_frame, write_json
from ..artifacts.provenance import check_sha256, code_version, files_sha256
from .class_map import ClassMap
from .errors import DatasetError
from .images import normalize, opened

__all__ = ["MANIFEST_COLUMNS", "PreparedDataset", "write_dataset", "load_dataset"]

MANIFEST_COLUMNS = ("image_id", "path", "label", "split", "orig_width", "orig_height", "sha256")


def write_dataset(
    root: str | Path,
    manifest: pd.DataFrame,
    classes: Sequence[str] | pd.DataFrame,
    metadata: dict,
) -> Path:
    """Write ``manifest.csv``, ``classes.csv`` and ``dataset.json`` into ``root``.

    Args:
        root: The dataset directory; the images must already be in place.
        manifest: One row per image with :data:`MANIFEST_COLUMNS`.
        classes: Class names in label order, or a table with a ``name`` column and
            extra per-class columns (``class_ids``, ``wnid``) written beside it.
        metadata: Preparation settings recorded in ``dataset.json``.

    ``dataset.json`` is written last, so its presence marks a complete dataset.
    """
    root = Path(root)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise DatasetError(f"manifest for {root} lacks columns {missing}")
    table = _class_table(classes, root)
    manifest = manifest.loc[:, list(MANIFEST_COLUMNS)].sort_values(["split", "image_id"], kind="stable")
    _validate(manifest, len(table), root / "manifest.csv")
    write_frame(manifest, root / "manifest.csv")
    write_frame(table, root / "classes.csv")
    counts = manifest["split"].value_counts().sort_index().to_dict()
    write_json(root / "dataset.json", {**metadata, "num_classes": len(table), "counts": counts,
                                       "code_version": code_version()})
    return root


def _class_table(classes: Sequence[str] | pd.DataFrame, root: Path) -> pd.DataFrame:
    """``index, name, <extra columns>`` in label order."""
    if isinstance(classes, pd.DataFrame):
        if "name" not in classes.columns:
            raise DatasetError(f"class table for {root} needs a 'name' column, has {list(classes.columns)}")
        extra = [c for c in classes.columns if c not in ("index", "name")]
        table = classes.loc[:, ["name", *extra]].reset_index(drop=True)
    else:
        table = pd.DataFrame({"name": [str(c) for c in classes]})
    if table.empty:
        raise DatasetError(f"dataset {root} has an empty class list")
    table.insert(0, "index", range(len(table)))
    _class_map(table, root / "classes.csv")
    return table


def _class_map(table: pd.DataFrame, where: Path) -> ClassMap:
    try:
        return ClassMap.from_table(table, str(where))
    except ValueError as exc:
        raise DatasetError(str(exc)) from None


def _validate(manifest: pd.DataFrame, num_classes: int, where: Path) -> None:
    """Ids unique; every label a class index (a whole number, ``0..num_classes-1``)."""
    if manifest["image_id"].duplicated().any():
        dup = manifest.loc[manifest["image_id"].duplicated(), "image_id"].iloc[0]
        raise DatasetError(f"{where}: image_id {dup!r} appears twice; ids must be unique")
    labels = pd.to_numeric(manifest["label"], errors="coerce")
    bad = labels.isna() | (labels != labels.round())
    if bad.any():
        row = manifest[bad].iloc[0]
        raise DatasetError(f"{where}: image {row['image_id']!r} has label '{row['label']}', not a class index "
                           f"(a whole number 0..{num_classes - 1}); {int(bad.sum())} such row(s)")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(
            f"{where}: labels span {labels.min()}..{labels.max()} but classes.csv names "
            f"{num_classes} classes; the class-name file must match the label count"
        )


def _validate_classes(table: pd.DataFrame, where: Path) -> None:
    """Class names present (not necessarily distinct: CLIP's ImageNet names repeat two), and
    (where the file has one) its ``index`` column
    0..N-1 in row order: a label indexes the rows, so a reordered file would name every
    image's class wrongly."""
    names = table["name"]
    empty = names.isna() | (names.astype(str).str.strip() == "")
    if empty.any():
        raise DatasetError(f"{where}: row {int(empty.idxmax())} has no class name; name every class")
    if "index" in table.columns:
        index = pd.to_numeric(table["index"], errors="coerce")
        wrong = index.isna() | (index != range(len(table)))
        if wrong.any():
            row = int(wrong.idxmax())
            raise DatasetError(f"{where}: row {row} has index {table['index'].iloc[row]}, not {row}; labels index "
                               "the rows in order, so the classes would be named wrongly: sort the file by index "
                               "(0..N-1) or prepare the dataset again")


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset in the manifest format, read back."""

    root: Path
    manifest: pd.DataFrame
    classes: list[str]
    metadata: dict
    class_table: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        return self.metadata.get("name", self.root.name)

    @property
    def class_map(self) -> ClassMap:
        """Model class ids behind each label class (identity without a ``class_ids`` column)."""
        if self.class_table is None:
            return ClassMap.identity(len(self.classes))
        return _class_map(self.class_table, self.root / "classes.csv")

    def split(self, split: str) -> pd.DataFrame:
        """Rows of one split, in manifest order; an unknown split is an error."""
        rows = self.manifest[self.manifest["split"] == split]
        if rows.empty:
            known = sorted(self.manifest["split"].unique())
            raise DatasetError(f"{self.root}: no images in split {split!r}; splits present: {known}")
        return rows.reset_index(drop=True)

    @property
    def content_sha256(self) -> str:
        """sha256 of ``manifest.csv`` and ``classes.csv``: changes with any image (via its
        sha256 column), label, split or class name, so a scoring run's key can include it."""
        return files_sha256([self.root / "manifest.csv", self.root / "classes.csv"], self.root)

    def image_path(self, row: pd.Series) -> Path:
        path = Path(row["path"])
        return path if path.is_absolute() else self.root / path

    def load_image(self, row: pd.Series) -> Image.Image:
        """Open one image, after checking its bytes against the manifest's sha256.

        The file is read once and hashed in memory (cheap beside decoding it), so an
        altered or swapped image is refused rather than scored silently.
        """
        path = self.image_path(row)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DatasetError(
                f"image {row['image_id']!r} is missing: {path} does not exist; "
                f"re-run the download rule for {self.root} (delete the directory first)"
            ) from None
        check_sha256(hashlib.sha256(data).hexdigest(), row.get("sha256"), f"image {row['image_id']!r} at {path}",
                     self.root / "manifest.csv", "re-run the download rule (delete the directory first)",
                     error=DatasetError)
        try:
            with opened(data, name=str(path)) as image:
                image = normalize(image, name=str(path))
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetError(
                f"image {row['image_id']!r} at {path} cannot be decoded ({exc}); "
                "replace the file or remove it from the dataset and re-run the download rule"
            ) from None
        return _crop_border(image, int(self.metadata.get("crop_border", 0)))

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
    manifest = pd.read_csv(root / "manifest.csv", dtype={"image_id": str, "path": str, "split": str, "sha256": str})
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise DatasetError(f"{root / 'manifest.csv'} lacks columns {missing}; re-run the download rule")
    table = pd.read_csv(root / "classes.csv", dtype={"name": str, "class_ids": str, "wnid": str})
    classes = table["name"].tolist()
    if not classes:
        raise DatasetError(f"{root / 'classes.csv'} lists no classes")
    _validate_classes(table, root / "classes.csv")
    _validate(manifest, len(classes), root / "manifest.csv")
    if not pd.api.types.is_integer_dtype(manifest["label"]):
        manifest["label"] = manifest["label"].astype("int64")  # whole numbers written as 1.0
    _class_map(table, root / "classes.csv")
    metadata = read_json(root / "dataset.json", "delete the dataset folder and prepare it again (download-dataset)",
                         "dataset record")
    return PreparedDataset(root, manifest, classes, metadata, table)


def _crop_border(image: Image.Image, border: int) -> Image.Image:
    """Cut ``border`` pixels from every side (ObjectNet's frame, as the authors' release crops it)."""
    if border <= 0:
        return image
    w, h = image.size
    if w <= 2 * border or h <= 2 * border:
        raise DatasetError(f"image of size {w}x{h} is too small to crop a {border}-pixel border")
    return image.crop((border, border, w - border, h - border))
