"""Shifted digits: seeded corruption, and an adversarial filter against a fixed reference."""

import re
from pathlib import Path

import pytest

from diffusion_classifier.baselines.zoo_evaluation import reference_model
from diffusion_classifier.data import DatasetError, load_dataset, prepare_dataset

from helpers.zoo_helpers import constant_checkpoint, make_manifest


@pytest.fixture
def base(tmp_path):
    return make_manifest(tmp_path / "base", {"train": [0, 1], "test": [0, 1, 2, 0, 1, 2]}, list("abc"))


def test_corruption_is_seeded_and_keeps_labels(tmp_path, base):
    one = prepare_dataset("digits_corrupted", tmp_path / "c1", base_dir=base, seed=3)
    two = prepare_dataset("digits_corrupted", tmp_path / "c2", base_dir=base, seed=3)
    other = prepare_dataset("digits_corrupted", tmp_path / "c3", base_dir=base, seed=4)
    m1, m2, m3 = (load_dataset(p).manifest for p in (one, two, other))
    assert m1["sha256"].tolist() == m2["sha256"].tolist() != m3["sha256"].tolist()
    original = load_dataset(base).split("test")
    assert sorted(m1["label"]) == sorted(original["label"]) and len(m1) == 6


def test_adversarial_set_holds_only_the_references_mistakes(tmp_path, base):
    reference = reference_model(constant_checkpoint(tmp_path / "ref", favourite=0, num_classes=3), load_dataset(base))
    out = prepare_dataset("digits_adversarial", tmp_path / "adv", base_dir=base, reference=reference, variants=2)
    data = load_dataset(out)
    assert len(data.manifest) == 4 * 2  # the four non-zero test images, two variants each
    assert (data.manifest["label"] != 0).all()
    assert data.metadata["reference"]["name"] == "constant" and data.metadata["pool_size"] == 12


def test_empty_shift_and_missing_base_are_clear_errors(tmp_path):
    zeros = make_manifest(tmp_path / "zeros", {"test": [0, 0]}, list("abc"))
    reference = reference_model(constant_checkpoint(tmp_path / "ref", favourite=0, num_classes=3), load_dataset(zeros))
    with pytest.raises(DatasetError, match="has no images: the reference model 'constant' misclassifies none"):
        prepare_dataset("digits_adversarial", tmp_path / "adv", base_dir=zeros, reference=reference)
    assert not (tmp_path / "adv").exists()
    with pytest.raises(DatasetError, match="built by rule build_shift"):
        prepare_dataset("digits_corrupted", tmp_path / "c")


def test_the_data_package_imports_no_classifier():
    # The adversarial filter is given to the reader (ReferenceModel), so data never
    # imports baselines: no import cycle between the two packages.
    import subprocess
    import sys

    code = ("import sys, diffusion_classifier.data; "
            "print(sorted(m for m in sys.modules if m.startswith('diffusion_classifier.baselines')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    source = (Path(__file__).resolve().parents[2] / "src/diffusion_classifier/data").rglob("*.py")
    assert not [p.name for p in source if re.search(r"^\s*(from|import) \S*baselines", p.read_text(), re.M)]
