"""Class names of the prompts: ImageNet's are open_clip's, Flowers102's CLIP's; ObjectNet in folder order."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.native_formats import build_flowers, build_objectnet, save_image, trust_flowers
from diffusion_classifier.data import DatasetError, load_dataset, prepare_dataset
from diffusion_classifier.data.imagenet_classes import ILSVRC_FIRST_LAST, imagenet_class_names, read_imagenet_classes


PAPER_CONFIG = Path(__file__).resolve().parents[2] / "config" / "paper.yaml"


def released_sha256(dataset: str) -> str:
    """The sha256 of the authors' prompt table of ``dataset``, as config/paper.yaml pins it."""
    return yaml.safe_load(PAPER_CONFIG.read_text())["datasets"][dataset]["prompt_table"]["sha256"]


def rebuilt_table_sha256(names, template: str) -> str:
    """sha256 of a ``prompt,classname,classidx`` table written like the released ones (pandas, no index)."""
    buffer = io.StringIO()
    pd.DataFrame({"prompt": [template.format(n) for n in names], "classname": list(names),
                  "classidx": range(len(names))}).to_csv(buffer, index=False)
    return hashlib.sha256(buffer.getvalue().encode()).hexdigest()


def ilsvrc_like_mapping(path, first_last=ILSVRC_FIRST_LAST):
    """A synset mapping with 1,000 sorted wnids that start and end like ILSVRC-2012's."""
    first, last = (int(w[1:]) for w in first_last)
    wnids = [f"n{first + k:08d}" for k in range(999)] + [f"n{last:08d}"]
    path.write_text("".join(f"{w} wordnet{k}, other\n" for k, w in enumerate(wnids)))
    return path, wnids


def test_imagenet_names_are_open_clips_list(tmp_path):
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    assert imagenet_class_names() == tuple(IMAGENET_CLASSNAMES)
    # The authors' ImageNet table is exactly these names in "a photo of a {}.": rebuilt byte for byte.
    assert rebuilt_table_sha256(imagenet_class_names(), "a photo of a {}.") == released_sha256("imagenet_2k")
    path, wnids = ilsvrc_like_mapping(tmp_path / "LOC_synset_mapping.txt")
    table = read_imagenet_classes(path)
    assert table["name"].tolist() == list(IMAGENET_CLASSNAMES) and table["wnid"].tolist() == wnids
    assert table.loc[8, "words"] == "wordnet8, other"  # WordNet entry kept beside the CLIP name ("hen")
    assert table.attrs["names"] == "open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES"


def test_imagenet_val_labels_its_classes_with_open_clips_names(tmp_path):
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    mapping, wnids = ilsvrc_like_mapping(tmp_path / "LOC_synset_mapping.txt")
    tree = tmp_path / "val"
    for k in (0, 7, 999):
        save_image(tree / wnids[k] / f"ILSVRC2012_val_{k:08d}.JPEG", (20, 20), seed=k, fmt="JPEG")
    for wnid in wnids:
        (tree / wnid).mkdir(exist_ok=True)
    ds = load_dataset(prepare_dataset("imagenet_val", tmp_path / "out", image_folder=str(tree),
                                      class_index=str(mapping)))
    assert ds.classes == list(IMAGENET_CLASSNAMES) and ds.classes[7] == "rooster"
    assert ds.metadata["class_names"] == "open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES"


def test_a_1000_class_list_that_is_not_ilsvrcs_is_refused(tmp_path):
    path, _ = ilsvrc_like_mapping(tmp_path / "m.txt", first_last=("n00000001", "n09999999"))
    with pytest.raises(DatasetError, match=r"1,000 wnids that are not ILSVRC-2012's .*n00000001/n09999999"):
        read_imagenet_classes(path)


def test_flowers_names_are_clips(tmp_path, raw, monkeypatch):
    """torchvision's list differs from CLIP's (the authors' table's) at labels 15, 59 and 92."""
    trust_flowers(monkeypatch, build_flowers(raw))
    ds = load_dataset(prepare_dataset("flowers102", tmp_path / "out", raw_dir=str(raw), download=False,
                                      splits=["test"]))
    assert [ds.classes[i] for i in (14, 15, 59, 92, 101)] == [
        "yellow iris", "globe flower", "pink and yellow dahlia", "air plant", "blackberry lily"]
    assert len(set(ds.classes)) == 102
    # The authors' flowers table rebuilt from our names is byte for byte the released file.
    assert rebuilt_table_sha256(ds.classes, "a photo of a {}, a type of flower.") == released_sha256("flowers102")


def test_objectnet_labels_follow_the_sorted_folders(tmp_path, raw):
    """The authors' (and the testbed's) label order: folders sorted, not display names."""
    root = build_objectnet(raw)
    mappings = root / "mappings"
    folders = json.loads((mappings / "folder_to_objectnet_label.json").read_text())
    folders.update({"full_sized_towel": "Bath towel", "beer_bottle": "Beer bottle"})
    (mappings / "folder_to_objectnet_label.json").write_text(json.dumps(folders))
    to_imagenet = json.loads((mappings / "objectnet_to_imagenet_1k.json").read_text())
    to_imagenet.update({"Bath towel": "crane", "Beer bottle": "goldfish"})
    (mappings / "objectnet_to_imagenet_1k.json").write_text(json.dumps(to_imagenet))
    for folder in ("full_sized_towel", "beer_bottle"):
        save_image(root / "images" / folder / f"{folder}_0.png", (40, 30), seed=1)
    ds = load_dataset(prepare_dataset("objectnet", tmp_path / "out", root=str(root)))
    assert ds.classes == ["Alarm clock", "Banana", "Beer bottle", "Bath towel"]
    assert ds.class_table["folder"].tolist() == ["alarm_clock", "banana", "beer_bottle", "full_sized_towel"]
