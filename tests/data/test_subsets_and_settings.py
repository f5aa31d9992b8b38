"""Seeded subsets, the paper-settings table and its agreement with config/paper.yaml."""

from __future__ import annotations

from pathlib import Path

import diffusion_classifier.artifacts  # noqa: F401  (import order of the engine package)
import pandas as pd
import pytest
import yaml

from diffusion_classifier.data import DatasetError, accuracy, get_paper_settings, list_datasets, list_paper_settings
from diffusion_classifier.data.paper_settings import PAPER_SETTINGS
from diffusion_classifier.data.subsets import SubsetSpec, balanced_subset, select_subset
from diffusion_classifier.engine.schedule import Schedule

PAPER_CONFIG = Path(__file__).resolve().parents[2] / "config" / "paper.yaml"


def _records(per_class=(5, 5, 5, 2)):
    rows = [{"image_id": f"c{c}-{i}", "label": c, "split": "test", "source": ""}
            for c, n in enumerate(per_class) for i in range(n)]
    return pd.DataFrame(rows)


def test_balanced_subset_spreads_the_remainder_by_seed():
    records = _records()
    picked = balanced_subset(records, 6, seed=0)
    assert len(picked) == 6 and set(picked["label"].value_counts()) <= {1, 2}
    seeds = {tuple(balanced_subset(records, 6, seed=s)["image_id"]) for s in range(8)}
    assert len(seeds) > 1
    with pytest.raises(DatasetError, match="class 3 has only 2 images"):
        balanced_subset(records, 12, seed=0)


def test_subset_applies_to_the_named_splits_only():
    records = pd.concat([_records(), _records().assign(split="train", image_id=lambda d: "t" + d["image_id"])])
    kept, record = select_subset(records, SubsetSpec(size=4, seed=1, splits=("test",)))
    assert (kept["split"] == "train").sum() == 17 and (kept["split"] == "test").sum() == 4
    assert len(record.ids) == 4 and record.provenance["splits"] == ["test"]
    unchanged, none = select_subset(records, SubsetSpec())
    assert none is None and len(unchanged) == len(records)


@pytest.mark.parametrize("dataset, num_classes, passes", [
    # UNet passes per image of the authors' release (the ~5,600 rows: within 1%).
    ("cifar10", 10, 2750), ("stl10", 10, 3000), ("oxford_pets", 37, 2050), ("objectnet", 113, 14400),
    ("imagenet_2k", 1000, 124500), ("flowers102", 102, 5600), ("food101", 101, 5600), ("fgvc_aircraft", 100, 5600),
])
def test_zero_shot_schedules_cost_what_the_paper_reports(dataset, num_classes, passes):
    settings = get_paper_settings(dataset)
    assert settings.num_classes == num_classes
    schedule = Schedule(settings.zero_shot.evaluations, settings.zero_shot.keep)
    assert abs(schedule.passes(num_classes) - passes) <= 0.01 * passes


def test_supervised_runs_use_the_dit_grid():
    for name in ("imagenet_10k", "imagenet_v2", "imagenet_a", "objectnet", "imagenet_val_a200", "imagenet_val_objectnet"):
        strategy = get_paper_settings(name).supervised
        assert Schedule(strategy.evaluations, strategy.keep).grid == list(range(2, 1000, 4)) and strategy.loss == "l2"


def test_prompts_metrics_and_names():
    pets = get_paper_settings("oxford_pets")
    assert pets.accuracy == "mean_per_class" and pets.zero_shot.loss == "l1"
    assert get_paper_settings("food101").prompts(["apple pie"] * 101)[0] == "a photo of apple pie, a type of food."
    assert get_paper_settings("cifar10").prompts(list("abcdefghij"))[1] == "a blurry photo of a b."
    with pytest.raises(ValueError, match="must match the label count"):
        pets.prompts(["Abyssinian"])
    with pytest.raises(ValueError, match="known: .*cifar10"):
        get_paper_settings("cifar100")
    # mean per class weighs the small class as much as the large one
    labels, predictions = [0, 0, 0, 1], [0, 0, 0, 0]
    assert accuracy("top1", labels, predictions) == 0.75 and accuracy("mean_per_class", labels, predictions) == 0.5
    assert {s.accuracy for s in PAPER_SETTINGS.values() if s.dataset in ("fgvc_aircraft", "oxford_pets", "flowers102")} \
        == {"mean_per_class"}


def test_paper_config_covers_every_paper_dataset():
    datasets = yaml.safe_load(PAPER_CONFIG.read_text())["datasets"]
    assert set(list_paper_settings()) <= set(datasets)
    for name in list_paper_settings():
        entry = datasets[name]
        assert entry["source"] == get_paper_settings(name).source and entry["source"] in list_datasets()
        subset = entry["options"].get("subset_size")
        assert subset == get_paper_settings(name).num_images or subset is None
