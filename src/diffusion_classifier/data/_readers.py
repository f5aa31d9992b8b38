"""Private machinery shared by the dataset readers.

A reader lists its images as *records* (``image_id, label, split, source``; the
source is a file path, or an index into an in-memory array for CIFAR/STL-style
datasets), then :func:`write_records` selects the subset, materializes the images
(files referenced in place or copied; arrays written as PNG), measures each source
image's original size and sha256, and writes the manifest form. Listing first and
hashing only the kept images keeps a 2,000-image ImageNet subset cheap.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from ..artifacts.provenance import file_sha256
from .images import opened
from .errors import DatasetError
from .manifest import write_dataset
from .subsets import SubsetSpec, select_subset

__all__ = ["subset_spec", "write_records", "require_dir", "folder_records", "list_images"]

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def subset_spec(subset_size: int | None = None, subset_seed: int = 0, subset_ids: str | None = None,
                subset_splits: Sequence[str] | None = None) -> SubsetSpec:
    """The common ``subset_*`` options of every reader, as a :class:`SubsetSpec`."""
    return SubsetSpec(subset_size, int(subset_seed), subset_ids,
                      tuple(subset_splits) if subset_splits is not None else None)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder_records(base: Path, folders: dict[str, int], split: str = "test") -> pd.DataFrame:
    """One record per image of ``base/<folder>/`` with the folder's label."""
    rows = []
    for folder, label in sorted(folders.items()):
        for path in list_images(base / folder):
            rows.append({"image_id": path.relative_to(base).with_suffix("").as_posix(), "label": label,
                         "split": split, "source": str(path)})
    return pd.DataFrame(rows, columns=["image_id", "label", "split", "source"])


def require_dir(path: Path, what: str, fix: str) -> Path:
    """``path`` if it is a directory, else a :class:`DatasetError` saying how to get it."""
    if not path.is_dir():
        raise DatasetError(f"{what} not found: {path} is not a directory. {fix}")
    return path


def write_records(
    out_dir: Path,
    records: pd.DataFrame,
    classes: Sequence[str] | pd.DataFrame,
    metadata: dict,
    *,
    subset: SubsetSpec,
    copy_images: bool = False,
    arrays: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Select, materialize and write one dataset in the manifest form.

    Args:
        out_dir: The (temporary, atomic) dataset directory.
        records: ``image_id, label, split, source`` per image.
        classes: Class names in label order, or a class table (see ``write_dataset``).
        metadata: Settings for ``dataset.json``.
        subset: Which images to keep.
        copy_images: Copy source files under ``images/`` instead of referencing them
            by absolute path.
        arrays: For array datasets, split -> ``N x H x W [x C]`` uint8 pixels; the
            record's ``source`` is the row index, and images are written as PNG.
    """
    if records.empty:
        raise DatasetError(f"no images found for {metadata.get('name')}: the source lists no files")
    kept, record = select_subset(records, subset)
    if arrays is not None:
        rows = _png_rows(out_dir, kept, arrays)
    else:
        rows = _file_rows(out_dir, kept, copy_images)
    if record is not None:
        record.write(out_dir)
        metadata = {**metadata, "subset": record.provenance}
    metadata = {**metadata, "images": "png" if arrays is not None else ("copied" if copy_images else "in place")}
    return write_dataset(out_dir, pd.DataFrame(rows), classes, metadata)


def _file_rows(out_dir: Path, records: pd.DataFrame, copy_images: bool) -> list[dict]:
    rows = []
    for rec in tqdm(records.itertuples(index=False), total=len(records), desc="images", leave=False):
        source = Path(rec.source)
        width, height = _image_size(source)
        if copy_images:
            rel = Path("images") / rec.split / f"{rec.image_id}{source.suffix.lower()}"
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out_dir / rel)
            path = rel.as_posix()
        else:
            path = str(source.resolve())
        rows.append(_row(rec, path, width, height, file_sha256(source)))
    return rows


def _png_rows(out_dir: Path, records: pd.DataFrame, arrays: Mapping[str, np.ndarray]) -> list[dict]:
    rows = []
    for rec in tqdm(records.itertuples(index=False), total=len(records), desc="png", leave=False):
        pixels = np.asarray(arrays[rec.split][int(rec.source)], dtype=np.uint8)
        rel = Path("images") / rec.split / f"{rec.image_id}.png"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(out_dir / rel)
        height, width = pixels.shape[:2]
        rows.append(_row(rec, rel.as_posix(), width, height, file_sha256(out_dir / rel)))
    return rows


def _row(rec, path: str, width: int, height: int, sha256: str) -> dict:
    return {"image_id": rec.image_id, "path": path, "label": int(rec.label), "split": rec.split,
            "orig_width": int(width), "orig_height": int(height), "sha256": sha256}


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height from the file header (no full decode)."""
    try:
        with opened(path) as image:
            return image.size
    except FileNotFoundError:
        raise DatasetError(f"image {path} is listed by the dataset's files but does not exist; "
                           "the download is incomplete: extract the archive again") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"image {path} cannot be read ({exc}); the download is damaged: "
                           "delete it and fetch the archive again") from None
