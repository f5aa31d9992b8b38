"""Adapters keyed by name: which class turns a checkpoint into a NoisePredictor.

A config names an adapter (``class_conditional``, ``stable_diffusion``, ...) and a
checkpoint; :func:`load_predictor` does the rest. New kinds of model register here
and the engine never changes.

Torch-free: the built-in adapters (bottom of this module) import their predictor class
when first loaded, so the workflow reads the adapter names, and which of them are
conditioned on prompts, without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .._registry import Registry

if TYPE_CHECKING:
    import torch

    from ..engine.predictor import NoisePredictor

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


Loader = Callable[..., "NoisePredictor"]
Conditioner = Callable[["NoisePredictor", ConditionSpec], "torch.Tensor"]


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
                   dtype: torch.dtype | None = None) -> NoisePredictor:
    """Load ``checkpoint`` with the adapter registered as ``adapter`` (``dtype`` default: float32)."""
    if dtype is None:
        import torch

        dtype = torch.float32
    return ADAPTERS.get(adapter).load(checkpoint, device=device, dtype=dtype)


def build_conditioning(adapter: str, predictor: NoisePredictor, spec: ConditionSpec) -> torch.Tensor:
    """The conditioning table of ``spec`` for ``predictor``, built once per run."""
    return ADAPTERS.get(adapter).conditioning(predictor, spec)


def adapter_uses_prompts(adapter: str) -> bool:
    """Whether adapter ``adapter`` is conditioned on prompts (text) rather than class ids."""
    return ADAPTERS.get(adapter).uses_prompts


# --- the built-in adapters -------------------------------------------------------------
def _load_class_conditional(checkpoint, **kwargs) -> NoisePredictor:
    from .class_conditional import ClassConditionalPredictor

    return ClassConditionalPredictor.from_pretrained(checkpoint, **kwargs)


def _class_conditioning(predictor, spec: ConditionSpec) -> torch.Tensor:
    """The model's own class id of every candidate class."""
    return predictor.conditioning(list(spec.class_ids))


def _load_text_conditional(checkpoint, **kwargs) -> NoisePredictor:
    from .text_conditional import TextConditionalPredictor

    return TextConditionalPredictor.from_pretrained(checkpoint, **kwargs)


def _prompt_conditioning(predictor, spec: ConditionSpec) -> torch.Tensor:
    """Encode one prompt per candidate class (Stable Diffusion's conditioning table)."""
    if len(spec.prompts) != len(spec.class_names):
        raise ValueError(
            f"{len(spec.prompts)} prompts for {len(spec.class_names)} classes: a text-conditional "
            "model needs exactly one prompt per class (check the prompt template and class names)"
        )
    return predictor.encode_prompts(spec.prompts)


register_adapter("class_conditional", _load_class_conditional, _class_conditioning)
register_adapter("stable_diffusion", _load_text_conditional, _prompt_conditioning, uses_prompts=True)
