"""ImageNet val, ImageNetV2, ImageNet-A and ObjectNet from native-layout stand-ins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.native_formats import (WNIDS, build_devkit, build_imagenet_a, build_imagenet_v2, build_imagenet_val_tree,
                      build_objectnet, build_synset_mapping, build_val_tar, trust_imagenet)
from diffusion_classifier.data import ClassMap, DatasetError, load_dataset, prepare_dataset
from diffusion_classifier.data.imagenet_classes import read_imagenet_classes


@pytest.fixture
def mapping(raw):
    return build_synset_mapping(raw / "LOC_synset_mapping.txt")


def test_class_list_is_sorted_wnids_with_first_synonyms(mapping):
    table = read_imagenet_classes(mapping)
    assert list(table["wnid"]) == sorted(WNIDS) and list(table["class_id"]) == list(range(6))
    assert list(table["name"]) == ["tench", "goldfish", "analog clock", "digital clock", "banana", "crane"]
    assert table.loc[0, "words"] == "tench, Tinca tinca"


def test_devkit_is_parsed_by_torchvision_with_its_checksum(raw, monkeypatch, mapping):
    devkit = build_devkit(raw)
    with pytest.raises(DatasetError, match="not the intact ImageNet devkit"):
        read_imagenet_classes(devkit)  # our stand-in does not carry the published md5
    trust_imagenet(monkeypatch, devkit)
    from_devkit = read_imagenet_classes(devkit)
    assert from_devkit.attrs["format"] == "devkit"
    pd.testing.assert_frame_equal(from_devkit, read_imagenet_classes(mapping))  # leaves only, same order


def test_val_from_the_official_archives(tmp_path, raw, monkeypatch):
    devkit, val_tar = build_devkit(raw), build_val_tar(raw)
    with pytest.raises(DatasetError, match=r"(?s)ILSVRC2012_img_val\.tar.*ILSVRC2012_devkit_t12\.tar\.gz"):
        prepare_dataset("imagenet_val", tmp_path / "bad", root=str(raw))
    assert not (tmp_path / "bad").exists()
    trust_imagenet(monkeypatch, devkit, val_tar)
    ds = load_dataset(prepare_dataset("imagenet_val", tmp_path / "out", root=str(raw)))
    test = ds.split("test")
    assert len(test) == 12 and ds.classes[0] == "tench"
    # Ground truth line i names ILSVRC id order[i % 6] + 1 -> wnid index i % 6 (see build_devkit).
    by_id = dict(zip(test["image_id"], test["label"]))
    assert [by_id[f"{WNIDS[i % 6]}/ILSVRC2012_val_{i + 1:08d}"] for i in range(12)] == [i % 6 for i in range(12)]
    assert ds.metadata["source_split"] == "val"


def test_val_tree_subset_is_seeded_balanced_and_recorded(tmp_path, raw, mapping):
    tree = build_imagenet_val_tree(raw)
    options = {"image_folder": str(tree), "class_index": str(mapping), "subset_size": 14, "subset_seed": 3}
    ds = load_dataset(prepare_dataset("imagenet_val", tmp_path / "a", **options))
    counts = ds.manifest["label"].value_counts()
    assert len(ds.manifest) == 14 and set(counts) == {2, 3} and len(counts) == 6
    ids = (tmp_path / "a" / "subset_ids.txt").read_text().split()
    assert ids == sorted(ds.manifest["image_id"])
    assert ds.metadata["subset"]["seed"] == 3 and ds.metadata["subset"]["num_images"] == 14
    again = load_dataset(prepare_dataset("imagenet_val", tmp_path / "b", **options))
    assert list(again.manifest["image_id"]) == list(ds.manifest["image_id"])
    other = load_dataset(prepare_dataset("imagenet_val", tmp_path / "c", **{**options, "subset_seed": 4}))
    assert set(other.manifest["image_id"]) != set(ds.manifest["image_id"])
    # Replaying the recorded ids reproduces the selection whatever the seed says.
    replay = load_dataset(prepare_dataset("imagenet_val", tmp_path / "d", **{**options, "subset_seed": 4,
                                                                             "subset_ids": str(tmp_path / "a" / "subset_ids.txt")}))
    assert list(replay.manifest["image_id"]) == list(ds.manifest["image_id"])
    assert replay.metadata["subset"]["ids_sha256"] == ds.metadata["subset"]["ids_sha256"]


def test_val_tree_must_match_the_class_list(tmp_path, raw, mapping):
    tree = build_imagenet_val_tree(raw, per_class=1)
    (tree / WNIDS[2] / "ILSVRC2012_val_00000003.JPEG").unlink()
    (tree / WNIDS[2]).rmdir()
    with pytest.raises(DatasetError, match=r"1 class folders missing \(first \['n00000033'\]\)"):
        prepare_dataset("imagenet_val", tmp_path / "out", image_folder=str(tree), class_index=str(mapping))
    with pytest.raises(DatasetError, match="class_index is required"):
        prepare_dataset("imagenet_val", tmp_path / "out", image_folder=str(tree))


def test_imagenet_a_records_its_imagenet_ids(tmp_path, raw, mapping):
    root = build_imagenet_a(raw)
    ds = load_dataset(prepare_dataset("imagenet_a", tmp_path / "out", root=str(root), class_index=str(mapping)))
    assert ds.classes == ["goldfish", "banana", "crane"]
    assert ds.class_map.label_ids == ((1,), (4,), (5,)) and not ds.class_map.is_identity
    assert dict(ds.manifest["label"].value_counts()) == {0: 2, 1: 2, 2: 2}
    with pytest.raises(DatasetError, match=r"(?s)hendrycks/imagenet-a\.tar.*200 wnid folders"):
        prepare_dataset("imagenet_a", tmp_path / "x", root=str(raw / "nope"), class_index=str(mapping))


def test_imagenet_v2_folders_are_model_ids(tmp_path, raw, mapping):
    root = build_imagenet_v2(raw)
    ds = load_dataset(prepare_dataset("imagenet_v2", tmp_path / "out", root=str(root), class_index=str(mapping)))
    assert len(ds.manifest) == 12 and ds.class_map.is_identity
    assert all(i.split("/")[0] == str(label) for i, label in zip(ds.manifest["image_id"], ds.manifest["label"]))
    (root / "1000").mkdir()
    with pytest.raises(DatasetError, match=r"folders 0\.\.5 .*found \['1000'\].*imagenetv2-matched-frequency\.tar\.gz"):
        prepare_dataset("imagenet_v2", tmp_path / "x", root=str(root), class_index=str(mapping))


def test_objectnet_maps_113_style_classes_to_imagenet_id_sets(tmp_path, raw):
    root = build_objectnet(raw)
    ds = load_dataset(prepare_dataset("objectnet", tmp_path / "out", root=str(root)))
    assert ds.classes == ["Alarm clock", "Banana"]  # air_freshener has no ImageNet class: left out
    assert ds.class_map.label_ids == ((2, 3), (4,))  # via pytorch_to_imagenet_2012_id, not line order
    assert ds.class_map.candidates == (2, 3, 4) and ds.class_map.candidate_labels == (0, 0, 1)
    assert len(ds.manifest) == 6 and not ds.manifest["image_id"].str.startswith("air_freshener").any()
    row = ds.manifest.iloc[0]
    image = np.asarray(ds.load_image(row))
    assert (row["orig_width"], row["orig_height"]) == (40, 30) and image.shape == (26, 36, 3)
    assert not (image[0] == [255, 0, 0]).all(axis=-1).all()  # the red frame is cut away


def test_objectnet_errors_point_to_the_terms_and_files(tmp_path, raw):
    with pytest.raises(DatasetError, match=r"objectnet\.dev/download\.html"):
        prepare_dataset("objectnet", tmp_path / "out", root=str(raw / "objectnet-1.0"))
    root = build_objectnet(raw)
    (root / "mappings" / "objectnet_to_imagenet_1k.json").write_text(json.dumps({"Banana": "plantain"}))
    with pytest.raises(DatasetError, match=r"'Banana' maps to \['plantain'\] which imagenet_to_label_2012_v2"):
        prepare_dataset("objectnet", tmp_path / "out", root=str(root))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source, names, ids", [
    ("imagenet_a", ["goldfish", "banana", "crane"], ((1,), (4,), (5,))),
    ("objectnet", ["Alarm clock", "Banana"], ((2, 3), (4,))),
])
def test_val_restricted_to_another_datasets_classes(tmp_path, raw, mapping, source, names, ids):
    tree = build_imagenet_val_tree(raw, per_class=2)
    other = {"imagenet_a": lambda: {"root": str(build_imagenet_a(raw)), "class_index": str(mapping)},
             "objectnet": lambda: {"root": str(build_objectnet(raw))}}[source]()
    ds = load_dataset(prepare_dataset("imagenet_val", tmp_path / "out", image_folder=str(tree),
                                      class_index=str(mapping), restrict_to={"source": source, "options": other}))
    assert ds.classes == names and ds.class_map.label_ids == ids
    wnid_label = {WNIDS[i]: label for label, group in enumerate(ids) for i in group}
    assert len(ds.manifest) == 2 * len(wnid_label)
    assert all(wnid_label[i.split("/")[0]] == label for i, label in zip(ds.manifest["image_id"], ds.manifest["label"]))
    assert ds.metadata["restricted_to"]["source"] == source


def test_class_map_refuses_overlapping_id_sets():
    with pytest.raises(ValueError, match="model class id 3 belongs to label classes 0 and 1"):
        ClassMap(((2, 3), (3,)))


def test_train_tree_is_a_train_split_with_the_same_classes(tmp_path, raw, mapping):
    # ILSVRC2012 train extracts to train/<wnid>/<wnid>_N.JPEG; SD Features learns from it.
    from helpers.native_formats import save_image

    for i, wnid in enumerate(WNIDS):
        for j in range(3):
            save_image(raw / "train" / wnid / f"{wnid}_{j}.JPEG", (20, 18), seed=10 * i + j, fmt="JPEG")
    options = {"image_folder": str(raw / "train"), "class_index": str(mapping), "subset_size": 12, "subset_seed": 0}
    ds = load_dataset(prepare_dataset("imagenet_train", tmp_path / "out", **options))
    assert set(ds.manifest["split"]) == {"train"} and len(ds.split("train")) == 12
    assert ds.classes == load_dataset(prepare_dataset("imagenet_val", tmp_path / "val", class_index=str(mapping),
                                                      image_folder=str(build_imagenet_val_tree(raw, 1)))).classes
    assert ds.metadata["source_split"] == "train" and ds.metadata["source"] == "imagenet_train"
    with pytest.raises(DatasetError, match="ILSVRC2012_img_train.tar"):
        prepare_dataset("imagenet_train", tmp_path / "bad")


def test_val_extraction_waits_for_another_job_extracting(tmp_path, raw, monkeypatch):
    """Download jobs of several val subsets share one root: torchvision extracts it in place."""
    import threading
    import time

    from filelock import FileLock

    from diffusion_classifier.data.imagenet import EXTRACTION_LOCK

    devkit, val_tar = build_devkit(raw), build_val_tar(raw)
    trust_imagenet(monkeypatch, devkit, val_tar)
    results = []
    job = threading.Thread(target=lambda: results.append(prepare_dataset("imagenet_val", tmp_path / "out",
                                                                         root=str(raw))))
    with FileLock(raw / EXTRACTION_LOCK):  # another job is extracting
        job.start()
        time.sleep(1.0)
        assert job.is_alive() and not (raw / "meta.bin").exists() and not (raw / "val").exists()
    job.join(timeout=60)
    assert len(load_dataset(results[0]).split("test")) == 12


def test_val_extraction_cut_short_is_refused(tmp_path, raw, monkeypatch):
    devkit, val_tar = build_devkit(raw), build_val_tar(raw)
    trust_imagenet(monkeypatch, devkit, val_tar)
    prepare_dataset("imagenet_val", tmp_path / "whole", root=str(raw))
    next((raw / "val").glob("*/*.JPEG")).unlink()  # a job killed while extracting
    with pytest.raises(DatasetError, match=r"holds 11 images, the devkit's ground truth 12 .*delete .*val"):
        prepare_dataset("imagenet_val", tmp_path / "cut", root=str(raw))
    assert not (tmp_path / "cut").exists()


def test_a_download_cut_short_leaves_no_partial_folder(tmp_path, raw, mapping, monkeypatch):
    """ImageNet-A's tarball extracts next to its root: a partial folder would pass for the whole set."""
    from torchvision.datasets import utils

    source = build_imagenet_a(tmp_path / "published")  # what the tarball holds
    root = raw / "imagenet-a" / "imagenet-a"

    def cut_short(url, download_root, *args, **kwargs):
        first = sorted(p for p in source.iterdir() if p.is_dir())[0]
        shutil.copytree(first, Path(download_root) / "imagenet-a" / first.name)
        raise OSError("connection reset")

    monkeypatch.setattr(utils, "download_and_extract_archive", cut_short)
    with pytest.raises(DatasetError, match="could not download .*connection reset"):
        prepare_dataset("imagenet_a", tmp_path / "cut", root=str(root), class_index=str(mapping), download=True)
    assert not root.exists() and [p.name for p in root.parent.iterdir()] == [".imagenet-extraction.lock"]

    monkeypatch.setattr(utils, "download_and_extract_archive",
                        lambda url, download_root, *a, **k: shutil.copytree(source, Path(download_root) / "imagenet-a"))
    ds = load_dataset(prepare_dataset("imagenet_a", tmp_path / "out", root=str(root), class_index=str(mapping),
                                      download=True))
    assert len(ds.classes) == 3 and len(ds.split("test")) == 6


def test_two_jobs_needing_imagenet_a_fetch_it_once(tmp_path, raw, mapping, monkeypatch):
    """imagenet_a and imagenet_val_a200 (restricted to its classes) start together on a fresh root."""
    import threading
    import time

    from torchvision.datasets import utils

    source = build_imagenet_a(tmp_path / "published")
    root = raw / "imagenet-a" / "imagenet-a"
    fetches = []

    def slow_fetch(url, download_root, *args, **kwargs):
        fetches.append(url)
        time.sleep(0.5)
        shutil.copytree(source, Path(download_root) / "imagenet-a")

    monkeypatch.setattr(utils, "download_and_extract_archive", slow_fetch)
    options = {"root": str(root), "class_index": str(mapping), "download": True}
    jobs = [threading.Thread(target=prepare_dataset, args=("imagenet_a", tmp_path / f"out{k}"), kwargs=options)
            for k in range(2)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    assert len(fetches) == 1
    assert [len(load_dataset(tmp_path / f"out{k}").split("test")) for k in range(2)] == [6, 6]
