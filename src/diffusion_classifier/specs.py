"""Typed, validated views of the config sections a stage receives.

The workflow validates the whole config against ``workflow/schemas`` at start; each
stage then turns its section into a frozen dataclass here, so a misspelt key fails
with the list of known keys even when a stage is called by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from .data.transforms import ImageTransform
from .engine import Schedule, ScoringConfig

__all__ = ["ModelSpec", "StrategySpec", "ScoringSpec", "from_dict", "resolve_device", "resolve_dtype"]

T = TypeVar("T")

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys are an error naming ``where``."""
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The model dtype; half precision falls back to float32 on the CPU."""
    try:
        dtype = _DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; choose one of {sorted(_DTYPES)}") from None
    return torch.float32 if device.type == "cpu" else dtype


@dataclass(frozen=True)
class ModelSpec:
    """One entry of ``models:``.

    Attributes:
        adapter: Name in the adapter registry (``class_conditional``, ...).
        checkpoint: Hub id or local directory; ``None`` when the pipeline trains it.
        image: Input size, channels and resampling the model expects.
        dtype: Weights dtype on an accelerator (``float32`` on the CPU).
        train: Training settings when the pipeline trains the model itself.
        train_dataset: Dataset the model is trained on (when ``train`` is given).
    """

    adapter: str
    image: dict = field(default_factory=lambda: {"size": 16, "channels": 1, "resample": "bilinear"})
    checkpoint: str | None = None
    dtype: str = "float32"
    train: dict | None = None
    train_dataset: str | None = None

    @property
    def transform(self) -> ImageTransform:
        return from_dict(ImageTransform, self.image, "model image settings")


@dataclass(frozen=True)
class StrategySpec:
    """One entry of ``strategies:``: an evaluation schedule and its loss.

    ``timesteps`` with ``noises_per_timestep`` replaces the evenly spaced grid by an
    explicit one, each timestep repeated with that many noises (round-robin order).
    """

    evaluations: list[int]
    keep: list[int] = field(default_factory=lambda: [1])
    loss: str = "l2"
    extra_objectives: list[str] = field(default_factory=list)
    timesteps: list[int] = field(default_factory=list)
    noises_per_timestep: int = 1

    def schedule(self, num_train_timesteps: int = 1000) -> Schedule:
        if self.noises_per_timestep < 1:
            raise ValueError(f"noises_per_timestep must be positive, got {self.noises_per_timestep}")
        grid = tuple(t for _ in range(self.noises_per_timestep) for t in self.timesteps)
        return Schedule(tuple(self.evaluations), tuple(self.keep), num_train_timesteps, grid)

    def scoring_config(self, num_train_timesteps: int, batch_size: int) -> ScoringConfig:
        return ScoringConfig(
            schedule=self.schedule(num_train_timesteps),
            loss=self.loss,
            extra_objectives=tuple(self.extra_objectives),
            batch_size=batch_size,
        )


@dataclass(frozen=True)
class ScoringSpec:
    """The ``scoring:`` section.

    Attributes:
        seed: Global seed; each image's noise seed derives from it and the image id.
        share_noise_across_images: Use the global seed for every image (DiT setup:
            one fixed noise per timestep shared across classes *and* images).
        batch_size: Noise-predictor inputs per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ...
        checkpoint_every: Images between checkpoints of a running shard.
        shards: Scoring jobs per dataset x model x strategy.
    """

    seed: int = 0
    share_noise_across_images: bool = False
    batch_size: int = 256
    device: str = "auto"
    checkpoint_every: int = 50
    shards: int = 1
