"""The ImageNet-1k class list, read from the dataset's own files at prepare time.

Nothing here is hard-coded: the wnids and names come from whichever of these the
user has (paper Sec. 5), recognized by name:

* ``ILSVRC2012_devkit_t12.tar.gz`` (the official devkit; torchvision parses its
  ``meta.mat`` after checking the archive's md5),
* ``meta.bin`` (what torchvision writes after parsing the devkit),
* a synset mapping text file, one ``n01440764 tench, Tinca tinca`` per line
  (``LOC_synset_mapping.txt`` of the Kaggle release, Caffe's ``synset_words.txt``).

The model class id of a wnid is its position among the sorted wnids: the order of
torchvision's ``ImageFolder``/``ImageNet`` and so of every ImageNet-1k checkpoint
(ResNets, ViTs, DiT) and of ImageNetV2's folders ``0..999``.

The display and prompt name of a class is CLIP's curated name from
``open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES`` ("rooster", not WordNet's
"cock"), the names the authors' prompt table uses; first WordNet synonyms differ for
297 classes and repeat ("crane" twice). ``words`` keeps the full WordNet entry. A
class list that is not ILSVRC-2012's 1,000 classes (a test's stand-in) keeps the
first WordNet synonym, and ``attrs['names']`` says which source the names are from.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .errors import DatasetError

__all__ = ["read_imagenet_classes", "imagenet_class_table", "imagenet_class_names", "CLASS_LIST_FORMATS", "WNID"]

WNID = re.compile(r"^n\d{8}$")
#: The first and last of ILSVRC-2012's 1,000 sorted wnids ("tench", "toilet tissue").
ILSVRC_FIRST_LAST = ("n01440764", "n15075141")

DEVKIT_HELP = (
    "Give options.class_index the ImageNet devkit ILSVRC2012_devkit_t12.tar.gz (from "
    "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php, login required), torchvision's "
    "meta.bin, or a synset mapping text file with lines 'n01440764 tench, Tinca tinca' "
    "(LOC_synset_mapping.txt of the Kaggle ImageNet release)."
)


@dataclass(frozen=True)
class ClassListFormat:
    """One way of storing the class list: how to recognize it and read it."""

    name: str
    matches: Callable[[Path], bool]
    read: Callable[[Path], dict[str, tuple[str, ...]]]  # wnid -> synonyms


def _read_devkit(path: Path) -> dict[str, tuple[str, ...]]:
    from torchvision.datasets.imagenet import load_meta_file, parse_devkit_archive

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / path.name).symlink_to(path.resolve())
        try:
            parse_devkit_archive(tmp, path.name)  # checks torchvision's md5 of the devkit
        except RuntimeError as exc:
            raise DatasetError(f"{path} is not the intact ImageNet devkit ({exc}). {DEVKIT_HELP}") from None
        return dict(load_meta_file(tmp)[0])


def _read_meta_bin(path: Path) -> dict[str, tuple[str, ...]]:
    import torch

    wnid_to_classes, _ = torch.load(path, weights_only=True)
    return {w: tuple(c) for w, c in wnid_to_classes.items()}


def _read_mapping_text(path: Path) -> dict[str, tuple[str, ...]]:
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        wnid, _, words = line.strip().partition(" ")
        if not WNID.match(wnid) or not words.strip():
            raise DatasetError(f"{path} line {number}: expected 'n01440764 tench, Tinca tinca', got {line!r}")
        out[wnid] = tuple(w.strip() for w in words.split(","))
    return out


CLASS_LIST_FORMATS: tuple[ClassListFormat, ...] = (
    ClassListFormat("devkit", lambda p: p.name.endswith((".tar.gz", ".tgz", ".tar")), _read_devkit),
    ClassListFormat("torchvision_meta_bin", lambda p: p.suffix == ".bin", _read_meta_bin),
    ClassListFormat("synset_mapping", lambda p: p.suffix in (".txt", ""), _read_mapping_text),
)


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """``open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES``, the 1,000 names in class-id order.

    The metadata module is plain data; it is loaded from open_clip's package folder
    without importing ``open_clip`` itself (which takes seconds and loads torch
    models), so that config validation can use the names while the workflow parses.
    """
    name = "open_clip.zero_shot_metadata"
    loaded = sys.modules.get(name)
    if loaded is None:
        package = importlib.util.find_spec("open_clip")
        if package is None or not package.submodule_search_locations:
            raise DatasetError("ImageNet class names come from open_clip: `pip install open_clip_torch`")
        path = Path(list(package.submodule_search_locations)[0]) / "zero_shot_metadata.py"
        spec = importlib.util.spec_from_file_location(f"_dc_{name}", path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    names = tuple(loaded.IMAGENET_CLASSNAMES)
    if len(names) != 1000:
        raise DatasetError(f"open_clip's IMAGENET_CLASSNAMES has {len(names)} names, not 1000")
    return names


def imagenet_class_table(wnid_to_words: dict[str, tuple[str, ...]], fmt: str, where: object) -> pd.DataFrame:
    """The class table in model-id order from ``wnid -> WordNet synonyms``.

    Columns ``class_id`` (0..N-1), ``wnid`` (sorted), ``name`` (open_clip's name for
    ILSVRC-2012's 1,000 classes, else the first synonym), ``words`` (all synonyms);
    ``attrs['format']`` names the file format and ``attrs['names']`` the name source.
    """
    wnids = sorted(wnid_to_words)
    if len(wnids) == 1000:
        if (wnids[0], wnids[-1]) != ILSVRC_FIRST_LAST:
            raise DatasetError(f"{where} lists 1,000 wnids that are not ILSVRC-2012's (first/last "
                               f"{wnids[0]}/{wnids[-1]}, expected {'/'.join(ILSVRC_FIRST_LAST)}). {DEVKIT_HELP}")
        names, source = list(imagenet_class_names()), "open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES"
    else:
        names, source = [wnid_to_words[w][0] for w in wnids], "first WordNet synonym (not the 1,000-class list)"
    table = pd.DataFrame({
        "class_id": range(len(wnids)),
        "wnid": wnids,
        "name": names,
        "words": [", ".join(wnid_to_words[w]) for w in wnids],
    })
    table.attrs.update(format=fmt, names=source)
    return table


def read_imagenet_classes(path: str | Path) -> pd.DataFrame:
    """The class list as a table in model-id order.

    Returns:
        The :func:`imagenet_class_table` of the list.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"ImageNet class list {path} does not exist. {DEVKIT_HELP}")
    fmt = next((f for f in CLASS_LIST_FORMATS if f.matches(path)), None)
    if fmt is None:
        raise DatasetError(f"cannot tell the format of ImageNet class list {path}. {DEVKIT_HELP}")
    wnid_to_words = fmt.read(path)
    bad = [w for w in wnid_to_words if not WNID.match(str(w))]
    if bad or not wnid_to_words:
        raise DatasetError(f"{path} ({fmt.name}) gives no valid wnids (bad: {bad[:3]}). {DEVKIT_HELP}")
    return imagenet_class_table(wnid_to_words, fmt.name, path)
