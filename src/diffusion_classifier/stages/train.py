"""Stage ``train_model``: train one of the embedded default's diffusion models."""

from __future__ import annotations

from pathlib import Path

from ..data import load_dataset
from ..models.training import TrainConfig, train_class_conditional
from ..specs import ModelSpec, from_dict

__all__ = ["train_model"]


def train_model(dataset_dir: str | Path, model: dict, name: str, out_dir: str | Path) -> Path:
    """Train model ``name`` as its config section says and save it to ``out_dir``."""
    spec = from_dict(ModelSpec, model, f"models.{name}")
    if spec.train is None:
        raise ValueError(f"models.{name} has no 'train' section: it is loaded from {spec.checkpoint!r}, not trained")
    if spec.adapter != "class_conditional":
        raise ValueError(f"models.{name}: the trainer builds class-conditional models, not {spec.adapter!r}")
    config = from_dict(TrainConfig, spec.train, f"models.{name}.train")
    return train_class_conditional(load_dataset(dataset_dir), spec.transform, config, out_dir, name)
