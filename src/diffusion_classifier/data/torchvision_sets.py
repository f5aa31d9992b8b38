"""The six zero-shot datasets torchvision downloads itself (paper Table 1).

Food-101, CIFAR-10, FGVC-Aircraft, Oxford-IIIT Pets, Flowers102 and STL-10 are
obtained with torchvision's own dataset classes (``download=True`` fetches the
archive into ``raw_dir`` and checks the md5 torchvision declares; nothing is fetched
when an intact copy is already there). Each entry below says which class, which
splits, where the archive comes from and how to read the class names; the readers
then write the manifest form:

* file datasets (Food, Aircraft, Pets, Flowers): images referenced in place by
  absolute path (``copy_images: true`` copies them under ``images/``);
* array datasets (CIFAR-10, STL-10): every image written as a lossless PNG.

Class names are the CLIP-style names the prompts use (paper Sec. 5.1): torchvision's
own names where they already are (CIFAR-10, STL-10, Aircraft variants, Pets),
Food-101's folder names with ``_`` as a space ("apple pie"), and Flowers102's
built-in list (``Flowers102.classes``, torchvision >= 0.21) with the three names
where it differs from CLIP's list, the one the authors' flowers prompt table uses,
replaced (:data:`FLOWERS_CLIP_NAMES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._readers import subset_spec, write_records
from .errors import DatasetError
from .registry import register_dataset

__all__ = ["TorchvisionSet", "TORCHVISION_SETS"]


@dataclass(frozen=True)
class Extracted:
    """What a torchvision dataset object holds, in the form the readers need."""

    classes: list[str]
    labels: list[int]
    files: list[Path] | None = None   # file datasets
    pixels: np.ndarray | None = None  # array datasets: N x H x W x C uint8


def _files(files_attr: str) -> Callable[[Any], tuple[list[Path], list[int]]]:
    """Image paths and labels of a file dataset (torchvision keeps them in private lists)."""
    def read(ds: Any) -> tuple[list[Path], list[int]]:
        try:
            return [Path(p) for p in getattr(ds, files_attr)], [int(x) for x in ds._labels]
        except AttributeError as exc:
            raise DatasetError(f"{type(ds).__name__} of this torchvision version has no {exc.name!r}; "
                               "the reader needs updating for it") from None
    return read


@dataclass(frozen=True)
class TorchvisionSet:
    """How one torchvision dataset is obtained and read.

    Attributes:
        name: Registry key.
        dataset_class: Class name in ``torchvision.datasets``.
        splits: Manifest split -> constructor keyword arguments selecting it.
        folder: What the archive extracts to under ``raw_dir``.
        urls: What ``download=True`` fetches (also named in the error when offline).
        md5: torchvision's checksum of each of ``urls`` (``None``: torchvision has none).
        kind: ``files`` (JPEGs read in place) or ``arrays`` (pixels in binary files).
        files_attr: Attribute listing the image files (file datasets).
        class_names: Turns the dataset object into the prompt names, label order.
    """

    name: str
    dataset_class: str
    splits: Mapping[str, Mapping[str, Any]]
    folder: str
    urls: tuple[str, ...]
    md5: tuple[str | None, ...]
    kind: str = "files"
    files_attr: str = "_image_files"
    class_names: Callable[[Any], list[str]] = field(default=lambda ds: list(ds.classes))

    def open(self, raw_dir: Path, split: str, download: bool) -> Any:
        """The torchvision dataset object of one split, with a clear error when absent."""
        import torchvision.datasets as tvd

        cls = getattr(tvd, self.dataset_class)
        try:
            return cls(str(raw_dir), download=download, **self.splits[split])
        except (RuntimeError, OSError) as exc:  # missing files, md5 mismatch, no network
            raise DatasetError(self._how_to_fetch(raw_dir, download, exc)) from None

    def _how_to_fetch(self, raw_dir: Path, download: bool, exc: Exception) -> str:
        sources = "; ".join(f"{u} (md5 {m or 'not published'})" for u, m in zip(self.urls, self.md5))
        tried = "downloading failed" if download else "download is off"
        return (
            f"{self.name}: torchvision ({self.dataset_class}) found no intact copy under "
            f"{raw_dir / self.folder} and {tried}: {exc}. Fix: run online with options.download: true "
            f"(torchvision fetches and checks it), or fetch {sources} yourself and extract it into "
            f"{raw_dir} so that {raw_dir / self.folder} exists. A checksum mismatch means a damaged "
            f"or different file: delete {raw_dir / self.folder} and fetch it again."
        )

    def extract(self, ds: Any) -> Extracted:
        classes = [str(c) for c in self.class_names(ds)]
        if self.kind == "arrays":
            pixels = np.asarray(ds.data)
            if pixels.ndim == 4 and pixels.shape[1] in (1, 3) and pixels.shape[-1] not in (1, 3):
                pixels = pixels.transpose(0, 2, 3, 1)  # STL-10 keeps CHW
            labels = getattr(ds, "targets", None)
            if labels is None:
                labels = ds.labels
            return Extracted(classes, [int(x) for x in labels], pixels=np.ascontiguousarray(pixels))
        files, labels = _files(self.files_attr)(ds)
        return Extracted(classes, labels, files=files)


def _food_names(ds: Any) -> list[str]:
    return [c.replace("_", " ") for c in ds.classes]


#: torchvision's Flowers102 name -> CLIP's (and the authors' prompt table's) name for
#: the classes where they differ (labels 15, 59 and 92); all other names agree.
FLOWERS_CLIP_NAMES = {"globe-flower": "globe flower", "pink-yellow dahlia?": "pink and yellow dahlia",
                      "ball moss": "air plant"}


def _flowers_names(ds: Any) -> list[str]:
    names = [str(c) for c in ds.classes]
    missing = sorted(set(FLOWERS_CLIP_NAMES) - set(names))
    if missing:
        raise DatasetError(f"torchvision's Flowers102.classes no longer lists {missing}; check its names against "
                           "CLIP's and update FLOWERS_CLIP_NAMES")
    return [FLOWERS_CLIP_NAMES.get(name, name) for name in names]


def _stl_names(ds: Any) -> list[str]:
    if not hasattr(ds, "classes"):
        raise DatasetError(f"STL-10 under {ds.root} lacks stl10_binary/class_names.txt; "
                           "extract the full stl10_binary.tar.gz archive")
    return list(ds.classes)


TORCHVISION_SETS: tuple[TorchvisionSet, ...] = (
    TorchvisionSet(
        "food101", "Food101", {"train": {"split": "train"}, "test": {"split": "test"}}, "food-101",
        ("http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz",), ("85eeb15f3717b99a5da872d97d918f87",),
        class_names=_food_names,
    ),
    TorchvisionSet(
        "cifar10", "CIFAR10", {"train": {"train": True}, "test": {"train": False}}, "cifar-10-batches-py",
        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",), ("c58f30108f718f92721af3b95e74349a",),
        kind="arrays",
    ),
    TorchvisionSet(
        "fgvc_aircraft", "FGVCAircraft",
        {"train": {"split": "trainval", "annotation_level": "variant"},
         "test": {"split": "test", "annotation_level": "variant"}},
        "fgvc-aircraft-2013b",
        ("https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",), (None,),
    ),
    TorchvisionSet(
        "oxford_pets", "OxfordIIITPet", {"train": {"split": "trainval"}, "test": {"split": "test"}},
        "oxford-iiit-pet",
        ("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
         "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz"),
        ("5c4f3ee8e5d25df40f4fd59a7f44e54c", "95a8c909bbe2e81eed6a22bccdf3f68f"),
        files_attr="_images",
    ),
    TorchvisionSet(
        "flowers102", "Flowers102",
        {"train": {"split": "train"}, "val": {"split": "val"}, "test": {"split": "test"}}, "flowers-102",
        ("https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
         "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat",
         "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/setid.mat"),
        ("52808999861908f626f3c1f4e79d11fa", "e0620be6f572b9609742df49c70aed4d", "a5357ecc9cb78c4bef273ce3793fc85c"),
        class_names=_flowers_names,
    ),
    TorchvisionSet(
        "stl10", "STL10", {"train": {"split": "train"}, "test": {"split": "test"}}, "stl10_binary",
        ("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",), ("91f7769df0f17e558f3565bffb0c7dfb",),
        kind="arrays", class_names=_stl_names,
    ),
)


def prepare_torchvision(spec: TorchvisionSet, out_dir: Path, *, raw_dir: str, splits: Sequence[str] | None = None,
                        download: bool = True, copy_images: bool = False, **subset: Any) -> Path:
    """Obtain ``spec`` with torchvision into ``raw_dir`` and write the manifest form.

    Args:
        spec: The dataset.
        out_dir: The dataset directory being written.
        raw_dir: Cache of the downloaded archives and their extracted files.
        splits: Manifest splits to write (default: all of the dataset's).
        download: Let torchvision fetch what is missing (checked against its md5).
        copy_images: Copy image files instead of referencing them in place.
        **subset: ``subset_size``, ``subset_seed``, ``subset_ids``, ``subset_splits``.
    """
    raw = Path(raw_dir).expanduser()
    wanted = list(splits) if splits is not None else list(spec.splits)
    unknown = [s for s in wanted if s not in spec.splits]
    if unknown:
        raise DatasetError(f"{spec.name} has no split(s) {unknown}; choose from {list(spec.splits)}")
    records, arrays, classes = [], {}, None
    for split in wanted:
        got = spec.extract(spec.open(raw, split, download))
        if classes is not None and got.classes != classes:
            raise DatasetError(f"{spec.name}: split {split!r} names other classes than the previous split")
        classes = got.classes
        if got.pixels is not None:
            arrays[split] = got.pixels
            ids = [f"{split}-{i:05d}" for i in range(len(got.labels))]
            sources: list[Any] = list(range(len(got.labels)))
        else:
            base = raw / spec.folder
            ids = [p.relative_to(base).with_suffix("").as_posix() for p in got.files]
            sources = [str(p) for p in got.files]
        records.append(pd.DataFrame({"image_id": ids, "label": got.labels, "split": split, "source": sources}))
    metadata = {
        "name": spec.name, "source": spec.name, "obtained_with": f"torchvision.datasets.{spec.dataset_class}",
        "urls": list(spec.urls), "md5": list(spec.md5), "raw_dir": str(raw.resolve()),
        "splits": {s: dict(spec.splits[s]) for s in wanted},
    }
    return write_records(out_dir, pd.concat(records, ignore_index=True), classes, metadata,
                         subset=subset_spec(**subset), copy_images=copy_images,
                         arrays=arrays if spec.kind == "arrays" else None)


def _register(spec: TorchvisionSet) -> None:
    def prepare(out_dir: Path, **options: Any) -> Path:
        return prepare_torchvision(spec, out_dir, **options)

    prepare.__doc__ = prepare_torchvision.__doc__
    register_dataset(spec.name, f"{spec.dataset_class} via torchvision (download with md5 check) into raw_dir")(prepare)


for _spec in TORCHVISION_SETS:
    _register(_spec)
