"""What a scoring run scores: one shard of a prepared dataset, or a user's own images.

Both are *sources* with the interface the loop (:func:`.loop.score_images`) reads:
``iter_images(rows)`` yields ``(row, image)`` for manifest-like rows (``image_id``,
``label``), ``metadata`` and ``content_sha256`` go into the shard's provenance. A
prepared dataset (:class:`~diffusion_classifier.data.PreparedDataset`) is one already;
:class:`UserImages` makes a list of files or PIL images one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

__all__ = ["IMAGE_SUFFIXES", "UNKNOWN_LABEL", "UserImages", "list_images", "shard_rows"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
UNKNOWN_LABEL = -1
"""The error store's label of an image whose true class is not known."""


def shard_rows(rows, shard: int, num_shards: int, key: str = "image_id", first: int | None = None):
    """Rows of shard ``shard`` of ``num_shards``: every ``num_shards``-th row by ``key``
    (an image's id; a caption pair's example id), of the ``first`` rows only when given.

    Interleaving keeps class balance across shards; sorting by id makes the split
    independent of manifest order.
    """
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard {shard} is outside 0..{num_shards - 1}")
    if first is not None and len(rows) < first:
        raise ValueError(f"{first} rows asked for, but there are {len(rows)}")
    ordered = rows.sort_values(key, kind="stable").reset_index(drop=True).iloc[:first]
    return ordered.iloc[shard::num_shards].reset_index(drop=True)


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under ``folder`` (recursively), in sorted order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder} holds no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    return paths


@dataclass
class UserImages:
    """A user's images (files or PIL images) with ids and optional labels, as a scoring source.

    Files are read when scored, through the pipeline's checked reader (Pillow's
    decompression-bomb refusal and a one-line error naming an undecodable file).

    Attributes:
        images: Paths or PIL images.
        ids: One id per image; it names the image in the store and seeds its noise.
        labels: Each image's class name, or ``None`` when not known.
        classes: The candidate class names (labels index into them).
        prompts: The prompt of each class (text-conditional models), for the provenance.
        unmatched: Of a folder's images, the names of the subfolders that match no class
            and how many images each holds (those images are unlabelled).
        skipped: Images left out (id -> why), e.g. undecodable files under ``check(skip=True)``.
    """

    images: Sequence
    ids: Sequence[str]
    labels: Sequence[str | None]
    classes: Sequence[str]
    prompts: Sequence[str] = ()
    unmatched: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not len(self.images) == len(self.ids) == len(self.labels):
            raise ValueError(f"{len(self.images)} images, {len(self.ids)} ids and {len(self.labels)} labels: "
                             "give one of each")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("image ids repeat: give every image its own id")
        unknown = sorted({lab for lab in self.labels if lab is not None and lab not in self.classes})
        if unknown:
            raise ValueError(f"labels {unknown} are not among the classes {list(self.classes)}")

    @classmethod
    def build(cls, images, classes: Sequence[str], *, ids: Sequence[str] | None = None,
              labels: Sequence[str | None] | None = None, prompts: Sequence[str] = ()) -> "UserImages":
        """Ids default to the path (or ``image-00000``...); labels to unknown."""
        images = list(images)
        ids = list(ids) if ids is not None else [
            str(x) if isinstance(x, (str, Path)) else f"image-{i:05d}" for i, x in enumerate(images)]
        labels = list(labels) if labels is not None else [None] * len(images)
        return cls(images, ids, labels, list(classes), list(prompts))

    @classmethod
    def from_folder(cls, folder: str | Path, classes: Sequence[str], prompts: Sequence[str] = ()) -> "UserImages":
        """Every image under ``folder``; one in a subfolder named like a class gets that label."""
        folder = Path(folder)
        paths = list_images(folder)
        ids = [p.relative_to(folder).as_posix() for p in paths]
        labels = [p.parent.name if p.parent != folder and p.parent.name in classes else None for p in paths]
        unmatched = Counter(p.parent.name for p, label in zip(paths, labels) if label is None and p.parent != folder)
        return cls(paths, ids, labels, list(classes), list(prompts), dict(sorted(unmatched.items())))

    def label_note(self) -> str | None:
        """One line on labels when some images are unlabelled: how many images are
        labelled, how many are not and why (folders that match no class, with counts;
        images outside any class folder); ``None`` when every image is labelled, or when
        none is and no subfolder was meant as a class (a plain folder of unlabelled images)."""
        unlabelled = sum(label is None for label in self.labels)
        if not unlabelled or (unlabelled == len(self.labels) and not self.unmatched):
            return None
        in_unmatched = sum(self.unmatched.values())
        reasons = []
        if self.unmatched:
            folders = ", ".join(f"{name} ({n})" for name, n in self.unmatched.items())
            reasons.append(f"{in_unmatched} in folders that match no class: {folders}")
        if unlabelled > in_unmatched:
            reasons.append(f"{unlabelled - in_unmatched} not in a class folder")
        return (f"{len(self.labels) - unlabelled} of {len(self.labels)} images are labelled by their class folder, "
                f"{unlabelled} unlabelled ({'; '.join(reasons)}); only labelled images count in the accuracy")

    @property
    def metadata(self) -> dict:
        """The stand-in dataset entry of the provenance: the images are the user's."""
        return {"name": "user_images", "classes": list(self.classes), "prompts": list(self.prompts)}

    @cached_property
    def content_sha256(self) -> str:
        """sha256 over every image's id, label and bytes (file bytes, or a PIL image's pixels
        and mode): part of the run key, so a checkpoint of other images is never resumed."""
        from PIL import Image

        from ..artifacts import file_sha256

        digest = hashlib.sha256()
        for image, image_id, label in zip(self.images, self.ids, self.labels):
            content = (hashlib.sha256(image.tobytes() + image.mode.encode()).hexdigest()
                       if isinstance(image, Image.Image) else file_sha256(image))
            digest.update(f"{image_id}\0{label}\0{content}\n".encode())
        return digest.hexdigest()

    def rows(self) -> pd.DataFrame:
        """Manifest-like rows: ``image_id``, ``label`` (a class index, or :data:`UNKNOWN_LABEL`), ``position``."""
        import pandas as pd

        return pd.DataFrame({
            "image_id": pd.Series(list(self.ids), dtype=object),
            "label": [UNKNOWN_LABEL if lab is None else list(self.classes).index(lab) for lab in self.labels],
            "position": range(len(self.ids)),
        })

    def check(self, skip: bool = False) -> "UserImages":
        """Decode every image once, so that an unreadable one is found before a model loads
        and before any image is scored (never an abort halfway).

        ``skip=False``: the first unreadable image is refused (a one-line error naming it).
        ``skip=True``: returns these images without the unreadable ones, each recorded in
        :attr:`skipped` with the reason.
        """
        from ..data.manifest import DatasetError

        bad: dict[str, str] = {}
        for _, row in self.rows().iterrows():
            try:
                self.load_image(row)
            except DatasetError as exc:
                if not skip:
                    raise
                bad[str(row["image_id"])] = str(exc)
        if not bad:
            return self
        keep = [i for i, image_id in enumerate(self.ids) if str(image_id) not in bad]
        return replace(self, images=[self.images[i] for i in keep], ids=[self.ids[i] for i in keep],
                       labels=[self.labels[i] for i in keep], skipped={**self.skipped, **bad})

    def iter_images(self, rows: pd.DataFrame) -> Iterator[tuple[pd.Series, Image.Image]]:
        """``(row, image)`` for each row, the image opened when it is reached."""
        for _, row in rows.iterrows():
            yield row, self.load_image(row)

    def load_image(self, row: pd.Series) -> Image.Image:
        from PIL import Image, UnidentifiedImageError

        from ..data.images import normalize, opened
        from ..data.manifest import DatasetError

        image = self.images[int(row["position"])]
        if isinstance(image, Image.Image):
            return normalize(image, name=str(row["image_id"]))
        try:
            with opened(image) as opened_image:
                return normalize(opened_image, name=str(image))
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetError(f"image {image} cannot be decoded ({exc}): replace or remove the file") from None
