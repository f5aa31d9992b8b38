"""Noise predictors: the interface, adapters for concrete models, and their registry."""

from .base import CallablePredictor, NoisePrediction, NoisePredictor
from .class_conditional import ClassConditionalPredictor
from .registry import (ConditionSpec, adapter_uses_prompts, build_conditioning, list_adapters, load_predictor,
                       register_adapter)
from .text_conditional import TextConditionalPredictor

register_adapter(
    "class_conditional",
    ClassConditionalPredictor.from_pretrained,
    lambda predictor, spec: predictor.conditioning(list(spec.class_ids)),
)


def _prompt_conditioning(predictor: TextConditionalPredictor, spec: ConditionSpec):
    """Encode one prompt per candidate class (Stable Diffusion's conditioning table)."""
    if len(spec.prompts) != len(spec.class_names):
        raise ValueError(
            f"{len(spec.prompts)} prompts for {len(spec.class_names)} classes: a text-conditional "
            "model needs exactly one prompt per class (check the prompt template and class names)"
        )
    return predictor.encode_prompts(spec.prompts)


register_adapter("stable_diffusion", TextConditionalPredictor.from_pretrained, _prompt_conditioning,
                 uses_prompts=True)

__all__ = [
    "CallablePredictor",
    "ClassConditionalPredictor",
    "ConditionSpec",
    "NoisePrediction",
    "NoisePredictor",
    "TextConditionalPredictor",
    "adapter_uses_prompts",
    "build_conditioning",
    "list_adapters",
    "load_predictor",
    "register_adapter",
]
