"""Stage ``train_model``: train one of the embedded default's diffusion models."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ._registry import stage

__all__ = ["train_model"]


def _trainers() -> dict[str, tuple[type, Callable[..., Path]]]:
    """Adapter -> (settings dataclass, trainer): the trainer that produces a checkpoint the adapter loads."""
    from ..models.text_training import TextTrainConfig, train_text_conditional
    from ..models.training import TrainConfig, train_class_conditional

    return {"class_conditional": (TrainConfig, train_class_conditional),
            "stable_diffusion": (TextTrainConfig, train_text_conditional)}


@stage("train-model", threads=True)
def train_model(dataset_dir: str | Path, model: dict, model_name: str, output_dir: str | Path) -> Path:
    """Train model ``model_name`` as its config section says and save it to ``output_dir``."""
    from ..data import load_dataset
    from ..specs import ModelSpec, from_dict

    spec = from_dict(ModelSpec, model, f"models.{model_name}")
    if spec.train is None:
        raise ValueError(f"models.{model_name} has no 'train' section: it is loaded from {spec.checkpoint!r}, "
                         "not trained")
    trainers = _trainers()
    if spec.adapter not in trainers:
        raise ValueError(f"models.{model_name}: no trainer builds {spec.adapter!r} models; trainers exist for "
                         f"{sorted(trainers)}")
    config_cls, trainer = trainers[spec.adapter]
    config = from_dict(config_cls, spec.train, f"models.{model_name}.train")
    return trainer(load_dataset(dataset_dir), spec.transform, config, output_dir, model_name)
