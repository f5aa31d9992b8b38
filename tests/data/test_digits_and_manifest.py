"""The bundled digits in the manifest format, and clear errors on broken datasets."""

import hashlib

import pandas as pd
import pytest
import torch
from PIL import Image

from diffusion_classifier.data import DatasetError, ImageTransform, load_dataset, prepare_dataset


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "digits"
    prepare_dataset("sklearn_digits", root, image_size=16, test_fraction=0.25, seed=0)
    return load_dataset(root)


def test_digits_split_is_stratified_and_complete(digits):
    manifest = digits.manifest
    assert len(manifest) == 1797 and digits.classes == [str(d) for d in range(10)]
    test = digits.split("test")
    assert len(test) == 450
    # Stratified: each class keeps its share of the test split, to one image.
    expected = manifest["label"].value_counts() * 0.25
    assert ((test["label"].value_counts() - expected).abs() <= 1).all()
    assert (manifest[["orig_width", "orig_height"]] == 8).all().all()
    row = test.iloc[0]
    image = digits.load_image(row)
    assert image.size == (16, 16) and image.mode == "L"


def test_split_is_seeded(tmp_path, digits):
    again = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "again", test_fraction=0.25, seed=0))
    other = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "other", test_fraction=0.25, seed=1))
    ids = set(digits.split("test")["image_id"])
    assert set(again.split("test")["image_id"]) == ids
    assert set(other.split("test")["image_id"]) != ids


def test_missing_image_names_the_file_and_the_fix(tmp_path):
    root = prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=20)
    dataset = load_dataset(root)
    row = dataset.split("test").iloc[0]
    dataset.image_path(row).unlink()
    with pytest.raises(DatasetError, match=r"missing: .*\.png does not exist; re-run the download rule"):
        dataset.load_image(row)


def test_undecodable_image_is_a_clear_error(tmp_path):
    dataset = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=20))
    row = dataset.split("test").iloc[0]
    dataset.image_path(row).write_bytes(b"not a png")
    row = row.copy()
    row["sha256"] = hashlib.sha256(b"not a png").hexdigest()  # prepared that way: the digest matches
    with pytest.raises(DatasetError, match="cannot be decoded"):
        dataset.load_image(row)


def test_an_altered_image_is_refused_naming_the_file(tmp_path):
    root = prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=20)
    dataset = load_dataset(root)
    row = dataset.split("test").iloc[0]
    path = dataset.image_path(row)
    with Image.open(path) as image:
        altered = image.copy()
    altered.putpixel((0, 0), 255 - altered.getpixel((0, 0)))  # still a valid image of the same size
    altered.save(path)
    with pytest.raises(DatasetError, match=rf"{row['image_id']}.*{path.name} does not match the sha256"):
        dataset.load_image(row)
    assert dataset.load_image(dataset.split("test").iloc[1]).size  # the others still load


def test_an_image_without_a_recorded_sha256_is_refused(tmp_path):
    dataset = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=20))
    row = dataset.split("test").iloc[0].copy()
    row["sha256"] = float("nan")  # what pandas reads from an empty manifest cell
    with pytest.raises(DatasetError, match=rf"manifest.csv records no sha256 for image '{row['image_id']}'"):
        dataset.load_image(row)


def test_class_file_must_match_the_labels(tmp_path):
    root = prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=20)
    pd.DataFrame({"index": range(5), "name": list("abcde")}).to_csv(root / "classes.csv", index=False)
    with pytest.raises(DatasetError, match="must match the label count"):
        load_dataset(root)


@pytest.mark.parametrize("edit, says", [
    (lambda m, c: m.__setitem__("label", ["cat", *m["label"][1:]]), "has label 'cat', not a class index"),
    (lambda m, c: m.__setitem__("label", ["1.5", *m["label"][1:]]), "has label '1.5', not a class index"),
    (lambda m, c: m.__setitem__("label", ["", *m["label"][1:]]), "not a class index"),
    (lambda m, c: c.__setitem__("name", ["", *c["name"][1:]]), "row 0 has no class name"),
    (lambda m, c: c.__setitem__("index", list(c["index"])[::-1]), "row 0 has index 9, not 0"),
])
def test_labels_that_are_not_what_the_classes_say_are_refused(tmp_path, edit, says):
    """Labels that are no class index, a class without a name, a class file whose rows are not
    in label order (every image's class would be named wrongly): one error naming the file."""
    root = prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=4)
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    classes = pd.read_csv(root / "classes.csv", dtype=str, keep_default_na=False)
    edit(manifest, classes)
    manifest.to_csv(root / "manifest.csv", index=False)
    classes.to_csv(root / "classes.csv", index=False)
    with pytest.raises(DatasetError, match=says):
        load_dataset(root)


def test_incomplete_dataset_is_refused(tmp_path):
    root = prepare_dataset("sklearn_digits", tmp_path / "d", max_per_split=20)
    (root / "dataset.json").unlink()
    with pytest.raises(DatasetError, match="not a complete prepared dataset"):
        load_dataset(root)


def test_failed_preparation_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        prepare_dataset("sklearn_digits", tmp_path / "d", no_such_option=1)
    assert not (tmp_path / "d").exists() and list(tmp_path.iterdir()) == []


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: .*sklearn_digits"):
        prepare_dataset("no_such_dataset", "/nonexistent")


def test_transform_is_the_sd_preprocessing_shape():
    image = Image.new("RGB", (64, 48), (255, 0, 0))
    tensor = ImageTransform(32, channels=3, resample="bicubic")(image)
    assert tensor.shape == (3, 32, 32)
    assert torch.allclose(tensor[0], torch.ones(32, 32)) and torch.allclose(tensor[1], -torch.ones(32, 32))
    assert ImageTransform(16, channels=1)(image).shape == (1, 16, 16)
    with pytest.raises(ValueError, match="channels"):
        ImageTransform(16, channels=2)
