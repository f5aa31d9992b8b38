"""The six torchvision datasets, read by torchvision itself from native-format stand-ins."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torchvision.datasets as tvd
from PIL import Image

from helpers.native_formats import (build_aircraft, build_cifar10, build_flowers, build_food101, build_pets, build_stl10,
                      trust_cifar10, trust_flowers, trust_stl10)
from diffusion_classifier.data import DatasetError, load_dataset, prepare_dataset
from diffusion_classifier.data.torchvision_sets import TORCHVISION_SETS


def test_cifar10_batches_become_pngs_with_their_labels(tmp_path, raw, monkeypatch):
    trust_cifar10(monkeypatch, build_cifar10(raw))
    ds = load_dataset(prepare_dataset("cifar10", tmp_path / "out", raw_dir=str(raw), download=False))
    assert ds.classes[:3] == ["airplane", "automobile", "bird"] and len(ds.classes) == 10
    assert dict(ds.manifest["split"].value_counts()) == {"train": 20, "test": 4}
    test = ds.split("test")
    native = tvd.CIFAR10(str(raw), train=False)
    for i, row in test.iterrows():
        assert row["label"] == native.targets[i]
        assert np.array_equal(np.asarray(ds.load_image(row)), native.data[i])  # lossless PNG
    assert (ds.manifest[["orig_width", "orig_height"]] == 32).all().all()
    assert ds.metadata["md5"] == ["c58f30108f718f92721af3b95e74349a"] and ds.metadata["images"] == "png"


def test_stl10_binary_keeps_its_orientation(tmp_path, raw, monkeypatch):
    sums, test_images = build_stl10(raw)
    trust_stl10(monkeypatch, sums)
    ds = load_dataset(prepare_dataset("stl10", tmp_path / "out", raw_dir=str(raw), download=False, splits=["test"]))
    assert ds.classes[7] == "monkey" and len(ds.split("test")) == 6
    first = np.asarray(ds.load_image(ds.split("test").iloc[0]))
    assert first.shape == (96, 96, 3)
    assert np.array_equal(first, test_images[0].transpose(1, 2, 0))
    assert (first[0] == [255, 0, 0]).all()  # the red row is on top, not on the left
    assert list(ds.split("test")["label"]) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("name, build, classes, counts", [
    ("food101", build_food101, ["apple pie", "baby back ribs"], {"train": 2, "test": 3}),
    ("fgvc_aircraft", build_aircraft, ["707-320", "727-200", "A300B4"], {"train": 2, "test": 3}),
    ("oxford_pets", build_pets, ["Abyssinian", "American Bulldog"], {"train": 2, "test": 3}),
])
def test_file_datasets_are_referenced_in_place(tmp_path, raw, name, build, classes, counts):
    build(raw)
    ds = load_dataset(prepare_dataset(name, tmp_path / "out", raw_dir=str(raw), download=False))
    assert ds.classes == classes
    assert dict(ds.manifest["split"].value_counts()) == counts
    for _, row in ds.manifest.iterrows():
        path = ds.image_path(row)
        assert path.is_absolute() and raw.resolve() in path.parents
        with Image.open(path) as image:
            assert image.size == (row["orig_width"], row["orig_height"])
    assert not (tmp_path / "out" / "images").exists()


def test_food_labels_follow_torchvision(tmp_path, raw):
    build_food101(raw)
    ds = load_dataset(prepare_dataset("food101", tmp_path / "out", raw_dir=str(raw), download=False, splits=["test"]))
    assert dict(zip(ds.manifest["image_id"], ds.manifest["label"])) == {
        "images/apple_pie/102": 0, "images/apple_pie/103": 0, "images/baby_back_ribs/202": 1}


def test_flowers_mat_labels_and_copy_option(tmp_path, raw, monkeypatch):
    trust_flowers(monkeypatch, build_flowers(raw))
    ds = load_dataset(prepare_dataset("flowers102", tmp_path / "out", raw_dir=str(raw), download=False,
                                      copy_images=True))
    assert len(ds.classes) == 102 and ds.classes[0] == "pink primrose"
    assert dict(ds.manifest["split"].value_counts()) == {"train": 2, "val": 2, "test": 3}
    test = ds.split("test")
    assert list(test["label"]) == [0, 1, 2]  # imagelabels.mat is 1-based
    assert not ds.image_path(test.iloc[0]).is_relative_to(raw) and ds.load_image(test.iloc[0]).size == (50, 40)
    assert ds.metadata["images"] == "copied"


def test_wrong_checksum_is_a_clear_error_and_leaves_nothing(tmp_path, raw):
    build_cifar10(raw)  # genuine layout, but not the published files: md5 differs
    with pytest.raises(DatasetError, match=r"(?s)cifar10: torchvision .*found no intact copy.*"
                                           r"cifar-10-python\.tar\.gz.*checksum mismatch"):
        prepare_dataset("cifar10", tmp_path / "out", raw_dir=str(raw), download=False)
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_offline_download_says_what_to_fetch_and_where(tmp_path, raw, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("torchvision.datasets.oxford_iiit_pet.download_and_extract_archive", offline)
    with pytest.raises(DatasetError, match=r"(?s)downloading failed.*annotations\.tar\.gz "
                                           r"\(md5 95a8c909bbe2e81eed6a22bccdf3f68f\).*oxford-iiit-pet exists"):
        prepare_dataset("oxford_pets", tmp_path / "out", raw_dir=str(raw), download=True)
    assert not (tmp_path / "out").exists()


def test_class_names_not_matching_the_labels_are_refused(tmp_path, raw, monkeypatch):
    trust_cifar10(monkeypatch, build_cifar10(raw, names=("cat", "dog", "frog")))
    with pytest.raises(DatasetError, match="must match the label count"):
        prepare_dataset("cifar10", tmp_path / "out", raw_dir=str(raw), download=False)
    assert not (tmp_path / "out").exists()


def test_unknown_split_names_the_known_ones(tmp_path, raw):
    with pytest.raises(DatasetError, match=r"no split\(s\) \['val'\]; choose from \['train', 'test'\]"):
        prepare_dataset("food101", tmp_path / "out", raw_dir=str(raw), splits=["val"])


def test_table_matches_the_urls_and_checksums_torchvision_declares():
    declared = {
        "food101": ([tvd.Food101._URL], [tvd.Food101._MD5]),
        "cifar10": ([tvd.CIFAR10.url], [tvd.CIFAR10.tgz_md5]),
        "fgvc_aircraft": ([tvd.FGVCAircraft._URL], [None]),
        "oxford_pets": ([u for u, _ in tvd.OxfordIIITPet._RESOURCES], [m for _, m in tvd.OxfordIIITPet._RESOURCES]),
        "flowers102": ([tvd.Flowers102._download_url_prefix + f for f, _ in tvd.Flowers102._file_dict.values()],
                       [m for _, m in tvd.Flowers102._file_dict.values()]),
        "stl10": ([tvd.STL10.url], [tvd.STL10.tgz_md5]),
    }
    for spec in TORCHVISION_SETS:
        urls, sums = declared[spec.name]
        assert list(spec.urls) == urls and list(spec.md5) == sums, spec.name
