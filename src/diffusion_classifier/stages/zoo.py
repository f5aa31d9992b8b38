"""Stages ``train_zoo_model`` and ``evaluate_zoo_model``: the discriminative zoo."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import atomic_path, code_version, write_json
from ..baselines.zoo import ZooModelSpec, load_zoo_model
from ..baselines.zoo_evaluation import EvaluationSetting, class_mapping, evaluate_classifier, summarise
from ..baselines.zoo_training import train_zoo_classifier
from ..data import load_dataset
from ..specs import from_dict

__all__ = ["train_zoo_model", "evaluate_zoo_model"]


def train_zoo_model(dataset_dir: str | Path, model: dict, name: str, out_dir: str | Path) -> Path:
    """Train zoo member ``name`` on the train split of a prepared dataset."""
    spec = from_dict(ZooModelSpec, model, f"zoo.models.{name}")
    return train_zoo_classifier(load_dataset(dataset_dir), spec, out_dir, name)


def evaluate_zoo_model(model: dict, name: str, setting: dict, setting_name: str, dataset_dir: str | Path,
                       predictions_path: str | Path, summary_path: str | Path, *,
                       checkpoint: str | Path | None = None, classes_from_dir: str | Path | None = None) -> dict:
    """Per-image predictions (Parquet) and counts (JSON) of one zoo model in one setting.

    Args:
        model: The ``zoo.models`` entry.
        name: Its name.
        setting: The ``zoo.settings`` entry.
        setting_name: Its name.
        dataset_dir: Prepared dataset of the setting.
        predictions_path: Parquet output, one row per image.
        summary_path: JSON output: counts, accuracy, names, provenance.
        checkpoint: Trained checkpoint directory (models the pipeline trains).
        classes_from_dir: Prepared dataset whose ``class_ids`` restrict the classes.
    """
    spec = from_dict(ZooModelSpec, model, f"zoo.models.{name}")
    where = from_dict(EvaluationSetting, setting, f"zoo.settings.{setting_name}")
    if where.classes_from is not None and classes_from_dir is None:
        raise ValueError(f"zoo.settings.{setting_name} restricts classes to {where.classes_from!r}: pass its "
                         "prepared directory")
    dataset = load_dataset(dataset_dir)
    mapping = class_mapping(dataset, load_dataset(classes_from_dir) if classes_from_dir else None, spec.num_classes)
    transform = spec.transform
    if where.border_crop:
        from dataclasses import replace

        transform = replace(transform, border_crop=where.border_crop)
    net = load_zoo_model(spec, checkpoint)
    predictions = evaluate_classifier(net, dataset, transform, mapping, where.split, where.batch_size)
    summary = {
        "model": name,
        "setting": setting_name,
        "family": "discriminative",
        "paper_name": spec.paper_name,
        "architecture": spec.architecture,
        "source": spec.source,
        "dataset": where.dataset,
        "split": where.split,
        "classes_from": where.classes_from,
        **summarise(predictions, mapping),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "code_version": code_version(),
    }
    with atomic_path(predictions_path) as tmp:
        predictions.to_parquet(tmp, index=False)
    write_json(summary_path, summary)
    return summary
