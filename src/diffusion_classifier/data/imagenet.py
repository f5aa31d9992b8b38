"""ImageNet validation, ImageNetV2 and ImageNet-A (paper Sec. 5-6).

None of them can be downloaded without a manual step, so each entry reads what the
user placed on disk and says exactly what to fetch and where when it is missing:

* ``imagenet_val``: ``ILSVRC2012_img_val.tar`` + ``ILSVRC2012_devkit_t12.tar.gz``
  in ``root`` (torchvision checks both md5s, extracts ``root/val/<wnid>/``), or an
  ImageFolder tree of 1,000 synset folders (``image_folder``) plus the class list
  (``class_index``, see :mod:`.imagenet_classes`). Seeded subsets (2,000 zero-shot,
  10,000 supervised) come from the common ``subset_*`` options; ``restrict_to``
  keeps the images of another dataset's classes and labels them as that dataset does
  (ImageNet val on ImageNet-A's 200 or ObjectNet's 113 classes: the in-distribution
  side of the robustness fits).
* ``imagenet_v2``: the matched-frequency tarball, folders ``0..999`` = model ids.
* ``imagenet_a``: the tarball's 200 wnid folders; ``classes.csv`` records each
  class's ImageNet-1k id in ``class_ids`` so DiT is conditioned on those 200 ids
  and the argmax runs over them only.

* ``imagenet_train``: the same for ``ILSVRC2012_img_train.tar`` (or a ``train/<wnid>/``
  tree), manifest split ``train``: the labelled images Table 1's SD Features learns from
  for its ImageNet and ObjectNet cells.

Every other manifest split is ``test`` (the source split is recorded in ``dataset.json``);
images are referenced in place unless ``copy_images`` is set.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
from filelock import FileLock, Timeout

from .._registry import Registry
from ._readers import folder_records, require_dir, subset_spec, write_records
from .class_map import ClassMap, format_ids
from .errors import DatasetError
from .imagenet_classes import DEVKIT_HELP, WNID, imagenet_class_names, imagenet_class_table, read_imagenet_classes
from .registry import register_dataset

#: Images of the ILSVRC-2012 training set (the full ``imagenet_train``, no ``subset_size``).
IMAGENET_TRAIN_IMAGES = 1_281_167

__all__ = ["register_class_table", "class_table_of", "IMAGENET_V2_URL", "IMAGENET_A_URL"]

IMAGENET_V2_URL = "https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/imagenetv2-matched-frequency.tar.gz"
IMAGENET_V2_FOLDER = "imagenetv2-matched-frequency-format-val"
IMAGENET_A_URL = "https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar"
IMAGENET_A_FOLDER = "imagenet-a"
#: The lock file that serialises extraction into a folder (torchvision's in place into an
#: ImageNet root; the ImageNetV2 and ImageNet-A tarballs next to their roots).
EXTRACTION_LOCK = ".imagenet-extraction.lock"

VAL_HELP = (
    "ImageNet val needs a manual download (login at https://image-net.org/download-images, "
    "ILSVRC2012 page): put ILSVRC2012_img_val.tar (md5 29b22e2961454d5413ddabcf34fc5622) and "
    "ILSVRC2012_devkit_t12.tar.gz (md5 fa75699e90414af021442c21a62c3abf) into one directory and give "
    "it as options.root; or give options.image_folder, a tree val/<wnid>/*.JPEG of the 1,000 synset "
    "folders, together with options.class_index."
)

ClassTableFn = Callable[..., pd.DataFrame]
#: How a dataset's label classes map to ImageNet-1k ids (for ``restrict_to``): each
#: function takes that dataset's own options and returns its class table (``name``,
#: ``class_ids``, ...) without touching any image.
CLASS_TABLES: Registry[ClassTableFn] = Registry("restrict_to.source (a dataset with a class table)", DatasetError)
register_class_table = CLASS_TABLES.register


def class_table_of(source: str, options: dict) -> pd.DataFrame:
    """The class table of registered ``source`` with ``options``."""
    return CLASS_TABLES.get(source)(**options)


def _synset_folders(tree: Path) -> list[str]:
    folders = sorted(p.name for p in tree.iterdir() if p.is_dir())
    bad = [f for f in folders if not WNID.match(f)]
    if bad or not folders:
        raise DatasetError(f"{tree} should hold one folder per synset named like n01440764; found {bad[:3] or 'none'}")
    return folders


# ----------------------------------------------------------------------- val and train
TRAIN_HELP = (
    "ImageNet train needs a manual download (login at https://image-net.org/download-images, "
    "ILSVRC2012 page): put ILSVRC2012_img_train.tar (md5 1d675b47d978889d74fa0da5fadfb00e) and "
    "ILSVRC2012_devkit_t12.tar.gz into one directory and give it as options.root; or give "
    "options.image_folder, a tree train/<wnid>/*.JPEG of the 1,000 synset folders, together with "
    "options.class_index."
)
#: Source split -> (help text, manifest split). Val is the test split of every experiment;
#: train feeds the classifiers that learn from real labels (Table 1's SD Features).
IMAGENET_SPLITS = {"val": (VAL_HELP, "test"), "train": (TRAIN_HELP, "train")}


@contextlib.contextmanager
def _extraction_lock(root: Path) -> Iterator[None]:
    """One process at a time extracts into ``root`` (no lock where it cannot write: nothing to extract)."""
    if not os.access(root, os.W_OK):
        yield
        return
    lock = FileLock(root / EXTRACTION_LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another job extracting into {root} ({EXTRACTION_LOCK})", flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _torchvision_split(root: Path, split: str) -> tuple[Path, pd.DataFrame]:
    """Let torchvision check and extract the official archives; return the tree and classes.

    Several download jobs read one ImageNet root (the val subsets, the train split), and
    torchvision extracts in place on first use: a job reading meanwhile would see a
    half-written ``meta.bin`` or a half-extracted split. So extraction holds a lock file in
    the root, and a val folder with fewer images than the devkit's ground truth (an
    extraction cut short) is refused rather than read as the whole test set.
    """
    import torchvision.datasets as tvd
    from torchvision.datasets.imagenet import load_meta_file

    with _extraction_lock(root):
        try:
            tvd.ImageNet(str(root), split=split)
            wnid_to_classes, val_wnids = load_meta_file(str(root))
        except (RuntimeError, OSError) as exc:
            raise DatasetError(f"ImageNet {split} under {root}: {exc}. {IMAGENET_SPLITS[split][0]}") from None
    tree = root / split
    if split == "val" and (found := sum(1 for path in tree.glob("*/*") if path.is_file())) != len(val_wnids):
        raise DatasetError(f"{tree} holds {found} images, the devkit's ground truth {len(val_wnids)} (an extraction "
                           f"cut short?): delete {tree} and run again to extract ILSVRC2012_img_val.tar anew")
    return tree, imagenet_class_table(dict(wnid_to_classes), "devkit", root)


def _val_class_names(root: str | None = None, restrict_to: dict | None = None, **_options: Any) -> tuple | None:
    """With the official devkit (``root``, md5-checked by torchvision) and all classes: open_clip's 1,000 names."""
    return imagenet_class_names() if root is not None and restrict_to is None else None


def _prepare_imagenet(out_dir: Path, split: str, root: str | None, image_folder: str | None,
                      class_index: str | None, restrict_to: dict | None, copy_images: bool, subset: dict) -> Path:
    """One split of ImageNet in the manifest form (``imagenet_val`` / ``imagenet_train``)."""
    name = f"imagenet_{split}"
    help_text, manifest_split = IMAGENET_SPLITS[split]
    if (root is None) == (image_folder is None):
        raise DatasetError(f"{name} needs exactly one of options.root and options.image_folder. {help_text}")
    if root is not None:
        tree, imagenet = _torchvision_split(Path(root).expanduser(), split)
    else:
        tree = require_dir(Path(image_folder).expanduser(), f"ImageNet {split} image folder", help_text)
        if class_index is None:
            raise DatasetError(f"options.class_index is required with options.image_folder. {DEVKIT_HELP}")
        imagenet = read_imagenet_classes(class_index)
    folders = _synset_folders(tree)
    missing = sorted(set(imagenet["wnid"]) - set(folders))
    extra = sorted(set(folders) - set(imagenet["wnid"]))
    if missing or extra:
        raise DatasetError(f"{tree} and the class list disagree: {len(missing)} class folders missing "
                           f"(first {missing[:3]}), {len(extra)} folders not in the class list (first {extra[:3]}); "
                           f"extract the full {split} set and use the matching devkit")
    model_id = dict(zip(imagenet["wnid"], imagenet["class_id"]))
    records = folder_records(tree, {w: model_id[w] for w in folders}, split=manifest_split)
    classes = imagenet[["name", "wnid", "words"]].assign(class_ids=[format_ids([i]) for i in imagenet["class_id"]])
    metadata = {"name": name, "source": name, "source_split": split, "tree": str(tree.resolve()),
                "class_list_format": imagenet.attrs.get("format"), "class_names": imagenet.attrs.get("names")}
    if restrict_to is not None:
        records, classes, restricted = _restrict(records, restrict_to)
        metadata["restricted_to"] = restricted
    return write_records(out_dir, records, classes, metadata, subset=subset_spec(**subset), copy_images=copy_images)


@register_dataset("imagenet_val", "ImageNet val (manual download: val tar + devkit, or a synset-folder tree)",
                  class_names=_val_class_names)
def prepare_imagenet_val(out_dir: Path, *, root: str | None = None, image_folder: str | None = None,
                         class_index: str | None = None, restrict_to: dict | None = None,
                         copy_images: bool = False, **subset: Any) -> Path:
    """ImageNet val in the manifest form (split ``test``); see the module docstring for the options."""
    return _prepare_imagenet(out_dir, "val", root, image_folder, class_index, restrict_to, copy_images, subset)


@register_dataset("imagenet_train", "ImageNet train (manual download: train tar + devkit, or a synset-folder tree)")
def prepare_imagenet_train(out_dir: Path, *, root: str | None = None, image_folder: str | None = None,
                           class_index: str | None = None, copy_images: bool = False, **subset: Any) -> Path:
    """ImageNet train in the manifest form (split ``train``): labelled images for SD Features."""
    return _prepare_imagenet(out_dir, "train", root, image_folder, class_index, None, copy_images, subset)


def _restrict(records: pd.DataFrame, restrict_to: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Keep the images of another dataset's classes, relabelled as that dataset labels them."""
    if not isinstance(restrict_to, dict) or "source" not in restrict_to:
        raise DatasetError("options.restrict_to must be {source: imagenet_a|objectnet, options: {...}}")
    table = class_table_of(restrict_to["source"], dict(restrict_to.get("options", {})))
    class_map = ClassMap.from_table(table, f"class table of {restrict_to['source']}")
    label_of_id = {i: label for label, ids in enumerate(class_map.label_ids) for i in ids}
    kept = records[records["label"].isin(label_of_id)].copy()
    kept["label"] = kept["label"].map(label_of_id)
    return kept, table, {"source": restrict_to["source"], "num_classes": len(table),
                         "num_model_ids": len(label_of_id)}


# ------------------------------------------------------------------------------- ImageNetV2
V2_HELP = (
    f"ImageNetV2 matched-frequency: download {IMAGENET_V2_URL}, extract it, and give the extracted "
    f"{IMAGENET_V2_FOLDER} directory (folders 0..999) as options.root; or set options.download: true "
    "with options.root ending in that folder name to fetch it."
)


def _fetch(url: str, root: Path, help_text: str) -> None:
    """Download and extract ``url`` as ``root`` (no checksum is published for it).

    The archive is extracted into an :func:`~diffusion_classifier.artifacts.io.atomic_directory`
    swapped in as ``root`` only when complete, so a download cut short never leaves a partial
    ``root`` that a later run would take for the whole set (and the next fetch removes what a
    killed one left); two jobs fetching at once download it once (the second finds ``root``
    after the lock).
    """
    from torchvision.datasets.utils import download_and_extract_archive

    from ..artifacts.io import atomic_directory

    root.parent.mkdir(parents=True, exist_ok=True)
    with _extraction_lock(root.parent):
        if root.is_dir():
            return
        with atomic_directory(root) as staging:
            try:
                download_and_extract_archive(url, str(staging), remove_finished=True)
            except (RuntimeError, OSError) as exc:
                raise DatasetError(f"could not download {url} ({exc}). {help_text}") from None
            extracted = staging / root.name  # the tarball's top folder: its contents become root's
            if not extracted.is_dir():
                raise DatasetError(f"{url} did not extract to a folder {root.name}. {help_text}")
            for item in extracted.iterdir():
                item.rename(staging / item.name)
            extracted.rmdir()


@register_dataset("imagenet_v2", "ImageNetV2 matched-frequency (public tarball; folders 0..999)")
def prepare_imagenet_v2(out_dir: Path, *, root: str, class_index: str, download: bool = False,
                        copy_images: bool = False, **subset: Any) -> Path:
    """ImageNetV2 matched-frequency; folder ``k`` holds images of ImageNet-1k class ``k``."""
    base = Path(root).expanduser()
    if download and not base.is_dir():
        _fetch(IMAGENET_V2_URL, base, V2_HELP)
    base = require_dir(base, "ImageNetV2 folder", V2_HELP)
    imagenet = read_imagenet_classes(class_index)
    folders = sorted((p.name for p in base.iterdir() if p.is_dir()), key=lambda n: (not n.isdigit(), n))
    bad = [f for f in folders if not f.isdigit() or int(f) >= len(imagenet)]
    if bad or not folders:
        raise DatasetError(f"{base} should hold folders 0..{len(imagenet) - 1} (ImageNet class ids); "
                           f"found {bad[:3] or 'none'}. {V2_HELP}")
    records = folder_records(base, {f: int(f) for f in folders})
    classes = imagenet[["name", "wnid", "words"]]
    metadata = {"name": "imagenet_v2", "source": "imagenet_v2", "variant": "matched-frequency",
                "url": IMAGENET_V2_URL, "root": str(base.resolve()), "class_list_format": imagenet.attrs.get("format"),
                "class_names": imagenet.attrs.get("names")}
    return write_records(out_dir, records, classes, metadata, subset=subset_spec(**subset), copy_images=copy_images)


# -------------------------------------------------------------------------------- ImageNet-A
A_HELP = (
    f"ImageNet-A: download {IMAGENET_A_URL}, extract it, and give the extracted {IMAGENET_A_FOLDER} "
    "directory (200 wnid folders) as options.root; or set options.download: true to fetch it."
)


@register_class_table("imagenet_a")
def imagenet_a_classes(root: str, class_index: str, download: bool = False, **_reader_options: Any) -> pd.DataFrame:
    """ImageNet-A's classes (its wnid folders, sorted) with their ImageNet-1k ids."""
    base = Path(root).expanduser()
    if download and not base.is_dir():
        _fetch(IMAGENET_A_URL, base, A_HELP)
    base = require_dir(base, "ImageNet-A folder", A_HELP)
    wnids = _synset_folders(base)
    imagenet = read_imagenet_classes(class_index).set_index("wnid")
    unknown = [w for w in wnids if w not in imagenet.index]
    if unknown:
        raise DatasetError(f"{base} has folders {unknown[:3]} that are not ImageNet-1k classes of {class_index}")
    return pd.DataFrame({"name": [imagenet.loc[w, "name"] for w in wnids], "wnid": wnids,
                         "words": [imagenet.loc[w, "words"] for w in wnids],
                         "class_ids": [format_ids([imagenet.loc[w, "class_id"]]) for w in wnids]})


@register_dataset("imagenet_a", "ImageNet-A (public tarball; 200 wnid folders mapped to ImageNet-1k ids)")
def prepare_imagenet_a(out_dir: Path, *, root: str, class_index: str, download: bool = False,
                       copy_images: bool = False, **subset: Any) -> Path:
    """ImageNet-A: labels 0..199 over its sorted wnids; ``class_ids`` = ImageNet-1k ids."""
    classes = imagenet_a_classes(root, class_index, download)
    base = Path(root).expanduser()
    records = folder_records(base, {w: i for i, w in enumerate(classes["wnid"])})
    metadata = {"name": "imagenet_a", "source": "imagenet_a", "url": IMAGENET_A_URL, "root": str(base.resolve())}
    return write_records(out_dir, records, classes, metadata, subset=subset_spec(**subset), copy_images=copy_images)
