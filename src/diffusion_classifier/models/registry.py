"""Adapters keyed by name: which class turns a checkpoint into a NoisePredictor.

A config names an adapter (``class_conditional``, ``stable_diffusion``, ...) and a
checkpoint; :func:`load_predictor` does the rest. New kinds of model register here
and the engine never changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .._registry import Registry
from .base import NoisePredictor

__all__ = ["ConditionSpec", "register_adapter", "load_predictor", "list_adapters", "build_conditioning",
           "adapter_uses_prompts"]


@dataclass(frozen=True)
class ConditionSpec:
    """What the candidate classes of a run are, in every form an adapter may need.

    Attributes:
        class_names: Human-readable name per candidate class.
        class_ids: The model's own class id per candidate (class-conditional models;
            e.g. ImageNet-A's 200 classes map to 200 of DiT's 1,000 ids).
        prompts: One prompt per candidate (text-conditional models).
    """

    class_names: tuple[str, ...]
    class_ids: tuple[int, ...] = field(default=())
    prompts: tuple[str, ...] = field(default=())


Loader = Callable[..., NoisePredictor]
Conditioner = Callable[[NoisePredictor, ConditionSpec], torch.Tensor]


@dataclass(frozen=True)
class _Adapter:
    load: Loader
    conditioning: Conditioner
    uses_prompts: bool = False


ADAPTERS: Registry[_Adapter] = Registry("model adapter")


def register_adapter(name: str, load: Loader, conditioning: Conditioner, *, uses_prompts: bool = False) -> None:
    """Register ``load(checkpoint, device, dtype)`` and ``conditioning(predictor, spec)``.

    ``uses_prompts`` marks text-conditional adapters, whose conditioning is built
    from ``ConditionSpec.prompts`` (the workflow then prepares a prompt table).
    """
    ADAPTERS.add(name, _Adapter(load, conditioning, uses_prompts))


def list_adapters() -> list[str]:
    return ADAPTERS.names()


def load_predictor(adapter: str, checkpoint: str | Path, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> NoisePredictor:
    """Load ``checkpoint`` with the adapter registered as ``adapter``."""
    return ADAPTERS.get(adapter).load(checkpoint, device=device, dtype=dtype)


def build_conditioning(adapter: str, predictor: NoisePredictor, spec: ConditionSpec) -> torch.Tensor:
    """The conditioning table of ``spec`` for ``predictor``, built once per run."""
    return ADAPTERS.get(adapter).conditioning(predictor, spec)


def adapter_uses_prompts(adapter: str) -> bool:
    """Whether adapter ``adapter`` is conditioned on prompts (text) rather than class ids."""
    return ADAPTERS.get(adapter).uses_prompts
