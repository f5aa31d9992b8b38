"""Stage ``train_model``: train one of the embedded default's diffusion models."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..data import load_dataset
from ..models.text_training import TextTrainConfig, train_text_conditional
from ..models.training import TrainConfig, train_class_conditional
from ..specs import ModelSpec, from_dict

__all__ = ["train_model"]

# Adapter -> (settings dataclass, trainer): the trainer that produces a checkpoint
# the adapter loads.
_TRAINERS: dict[str, tuple[type, Callable[..., Path]]] = {
    "class_conditional": (TrainConfig, train_class_conditional),
    "stable_diffusion": (TextTrainConfig, train_text_conditional),
}


def train_model(dataset_dir: str | Path, model: dict, name: str, out_dir: str | Path) -> Path:
    """Train model ``name`` as its config section says and save it to ``out_dir``."""
    spec = from_dict(ModelSpec, model, f"models.{name}")
    if spec.train is None:
        raise ValueError(f"models.{name} has no 'train' section: it is loaded from {spec.checkpoint!r}, not trained")
    if spec.adapter not in _TRAINERS:
        raise ValueError(f"models.{name}: no trainer builds {spec.adapter!r} models; trainers exist for "
                         f"{sorted(_TRAINERS)}")
    config_cls, trainer = _TRAINERS[spec.adapter]
    config = from_dict(config_cls, spec.train, f"models.{name}.train")
    return trainer(load_dataset(dataset_dir), spec.transform, config, out_dir, name)
