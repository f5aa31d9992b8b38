"""Noise predictors: the interface, adapters for concrete models, and their registry."""

from .base import CallablePredictor, NoisePrediction, NoisePredictor
from .class_conditional import ClassConditionalPredictor
from .registry import ConditionSpec, build_conditioning, list_adapters, load_predictor, register_adapter

register_adapter(
    "class_conditional",
    ClassConditionalPredictor.from_pretrained,
    lambda predictor, spec: predictor.conditioning(list(spec.class_ids)),
)

__all__ = [
    "CallablePredictor",
    "ClassConditionalPredictor",
    "ConditionSpec",
    "NoisePrediction",
    "NoisePredictor",
    "build_conditioning",
    "list_adapters",
    "load_predictor",
    "register_adapter",
]
