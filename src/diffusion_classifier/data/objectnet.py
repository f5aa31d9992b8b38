"""ObjectNet on the 113 classes it shares with ImageNet (paper Sec. 5-6).

The class mapping comes from the release's own ``mappings/`` folder, never from a
copy in this repository:

* ``folder_to_objectnet_label.json``: image folder -> ObjectNet class name,
* ``objectnet_to_imagenet_1k.json``: ObjectNet class -> ``"; "``-joined ImageNet
  class names (113 entries),
* ``imagenet_to_label_2012_v2``: line ``k`` = the ImageNet class name of id ``k`` in
  ObjectNet's own order,
* ``pytorch_to_imagenet_2012_id.json``: model (sorted-wnid) id -> that line number.

Labels are the 113 ObjectNet classes in the order of their sorted folder names, as
the authors' and the robustness testbed's loaders number them (their prompt table's
``classidx``; sorting the display names would differ: "Bath towel" is folder
``full_sized_towel``); ``classes.csv`` records each
one's ImageNet-1k model ids in ``class_ids`` (125 ids in all, e.g. "409;530"). A
class-conditional model is scored on those 125 ids and a prediction is correct iff
it falls in the image's set (:class:`~diffusion_classifier.data.class_map.ClassMap`);
Stable Diffusion is prompted with the 113 ObjectNet names.

The images carry a thin frame; like the robustness testbed we cut 2 pixels from
every side when loading (``crop_border`` in ``dataset.json``, applied by
``PreparedDataset.load_image``), while ``orig_width``/``orig_height`` stay those of
the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ._readers import folder_records, require_dir, subset_spec, write_records
from .class_map import format_ids
from .errors import DatasetError
from .imagenet import register_class_table
from .registry import register_dataset

__all__ = ["objectnet_classes", "OBJECTNET_HELP", "MAPPING_FILES"]

OBJECTNET_HELP = (
    "ObjectNet requires accepting its license terms at https://objectnet.dev/download.html; "
    "after accepting, download objectnet-1.0.zip (the page gives the archive password), unzip it, "
    "and give the objectnet-1.0 directory (with images/ and mappings/) as options.root."
)

MAPPING_FILES = {
    "folders": "folder_to_objectnet_label.json",
    "objectnet_to_imagenet": "objectnet_to_imagenet_1k.json",
    "imagenet_labels": "imagenet_to_label_2012_v2",
    "pytorch_ids": "pytorch_to_imagenet_2012_id.json",
}


def _mapping(root: Path, key: str) -> Any:
    path = root / "mappings" / MAPPING_FILES[key]
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the ObjectNet release is incomplete. {OBJECTNET_HELP}")
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} is not valid JSON ({exc}); extract the release again") from None
    return [line.strip() for line in path.read_text().splitlines()]


@register_class_table("objectnet")
def objectnet_classes(root: str, **_reader_options: Any) -> pd.DataFrame:
    """The 113 ObjectNet classes shared with ImageNet, with their folders and model ids."""
    base = require_dir(Path(root).expanduser(), "ObjectNet release", OBJECTNET_HELP)
    folder_of = {label: folder for folder, label in _mapping(base, "folders").items()}
    to_imagenet = _mapping(base, "objectnet_to_imagenet")
    line_names = _mapping(base, "imagenet_labels")
    model_id_of_line = {int(line): int(model_id) for model_id, line in _mapping(base, "pytorch_ids").items()}
    model_id_of_name = {}
    for line, name in enumerate(line_names):
        if line not in model_id_of_line:
            raise DatasetError(f"{MAPPING_FILES['pytorch_ids']} has no model id for line {line} ({name!r})")
        model_id_of_name[name] = model_id_of_line[line]
    no_folder = [name for name in to_imagenet if name not in folder_of]
    if no_folder:
        raise DatasetError(f"{MAPPING_FILES['folders']} has no folder for ObjectNet class {no_folder[0]!r}")
    rows = []
    for name in sorted(to_imagenet, key=folder_of.__getitem__):
        imagenet_names = [n.strip() for n in to_imagenet[name].split(";") if n.strip()]
        unknown = [n for n in imagenet_names if n not in model_id_of_name]
        if unknown:
            raise DatasetError(f"{MAPPING_FILES['objectnet_to_imagenet']}: {name!r} maps to {unknown} which "
                               f"{MAPPING_FILES['imagenet_labels']} does not list")
        rows.append({"name": name, "folder": folder_of[name], "imagenet_names": "; ".join(imagenet_names),
                     "class_ids": format_ids(sorted(model_id_of_name[n] for n in imagenet_names))})
    return pd.DataFrame(rows)


@register_dataset("objectnet", "ObjectNet, 113 ImageNet classes (terms must be accepted; mappings from the release)")
def prepare_objectnet(out_dir: Path, *, root: str, crop_border: int = 2, copy_images: bool = False,
                      **subset: Any) -> Path:
    """ObjectNet in the manifest form; images of the 113 shared classes only."""
    classes = objectnet_classes(root)
    base = Path(root).expanduser()
    images = base / "images"
    missing = [f for f in classes["folder"] if not (images / f).is_dir()]
    if missing:
        raise DatasetError(f"{images} lacks class folders {missing[:3]} ({len(missing)} in all): the "
                           f"download is incomplete. {OBJECTNET_HELP}")
    records = folder_records(images, {f: i for i, f in enumerate(classes["folder"])})
    metadata = {"name": "objectnet", "source": "objectnet", "root": str(base.resolve()),
                "crop_border": int(crop_border), "num_model_ids": sum(len(c.split(";")) for c in classes["class_ids"])}
    return write_records(out_dir, records, classes, metadata, subset=subset_spec(**subset), copy_images=copy_images)
