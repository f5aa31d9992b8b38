"""Stages ``train_zoo_model`` and ``evaluate_zoo_model``: the discriminative zoo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ._registry import stage

__all__ = ["train_zoo_model", "evaluate_zoo_model"]


@stage("train-zoo-model", threads=True)
def train_zoo_model(dataset_dir: str | Path, model: dict, model_name: str, output_dir: str | Path) -> Path:
    """Train zoo member ``model_name`` on the train split of a prepared dataset."""
    from ..baselines.zoo import ZooModelSpec
    from ..baselines.zoo_training import train_zoo_classifier
    from ..data import load_dataset
    from ..specs import from_dict

    spec = from_dict(ZooModelSpec, model, f"zoo.models.{model_name}")
    return train_zoo_classifier(load_dataset(dataset_dir), spec, output_dir, model_name)


@stage("evaluate-zoo-model", threads=True)
def evaluate_zoo_model(model: dict, model_name: str, settings: dict, data_root: str | Path,
                       output_predictions: list[str | Path], output_summaries: list[str | Path], *,
                       checkpoint: str | Path | None = None) -> list[dict]:
    """Evaluate one zoo model in every setting, loading it once.

    Args:
        model: The ``zoo.models.<model_name>`` entry.
        model_name: The zoo member.
        settings: ``zoo.settings``: each reads ``<data_root>/<dataset>`` (and
            ``<data_root>/<classes_from>`` for a class restriction).
        data_root: The folder holding every prepared dataset.
        output_predictions: Per-image predictions (Parquet), one per setting, in the order of ``settings``.
        output_summaries: Counts and accuracy (JSON), one per setting, in the order of ``settings``.
        checkpoint: Trained weights (a model trained here); none: the spec's published weights.
    """
    from ..artifacts import code_version, write_frame, write_json
    from ..baselines.zoo import ZooModelSpec, load_zoo_model
    from ..baselines.zoo_evaluation import class_mapping, evaluate_classifier, summarise
    from ..specs import EvaluationSetting
    from ..data import load_dataset
    from ..errors import UserError
    from ..specs import from_dict

    if not len(output_predictions) == len(output_summaries) == len(settings):
        raise UserError(f"--output-predictions and --output-summaries: give one file each per setting of "
                        f"zoo.settings ({len(settings)}: {', '.join(settings)}), not {len(output_predictions)} "
                        f"and {len(output_summaries)}")
    spec = from_dict(ZooModelSpec, model, f"zoo.models.{model_name}")
    net = load_zoo_model(spec, checkpoint)
    root = Path(data_root)
    summaries = []
    for (setting_name, setting), predictions_path, summary_path in zip(settings.items(), output_predictions,
                                                                      output_summaries):
        where = from_dict(EvaluationSetting, setting, f"zoo.settings.{setting_name}")
        dataset = load_dataset(root / where.dataset)
        restrict = load_dataset(root / where.classes_from) if where.classes_from else None
        mapping = class_mapping(dataset, restrict, spec.num_classes)
        transform = replace(spec.transform, border_crop=where.border_crop) if where.border_crop else spec.transform
        predictions = evaluate_classifier(net, dataset, transform, mapping, where.split, where.batch_size)
        summary = {
            "model": model_name,
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
        write_frame(predictions, predictions_path)
        write_json(summary_path, summary)
        summaries.append(summary)
    return summaries
