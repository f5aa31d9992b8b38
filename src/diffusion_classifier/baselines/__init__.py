"""Baselines of the paper's tables that are not the Diffusion Classifier itself.

The discriminative zoo of the robustness study (:mod:`.zoo`, Table 4, Figure 6);
CLIP-style zero-shot classification (Table 1: CLIP ResNet-50, OpenCLIP ViT-H/14), their
Winoground scores (Table 3: CLIP ViT-L/14, OpenCLIP ViT-H/14), and the summary format
every Table 1 producer writes. Nothing is loaded at import time; open_clip only inside
its loader.
"""

from .clip_models import (
    WEIGHTS_UNAVAILABLE,
    ClipModel,
    ClipModelSpec,
    ClipUnavailable,
    get_clip_backend,
    list_clip_backends,
    load_clip_model,
    register_clip_backend,
)
from .summary import OK, UNAVAILABLE, accuracy_summary, unavailable_summary
from .clip_pairs import clip_pair_scores
from .zero_shot import class_prompts, cosine_logits, zero_shot_predict

__all__ = [
    "OK",
    "UNAVAILABLE",
    "WEIGHTS_UNAVAILABLE",
    "ClipModel",
    "ClipModelSpec",
    "ClipUnavailable",
    "accuracy_summary",
    "class_prompts",
    "clip_pair_scores",
    "cosine_logits",
    "get_clip_backend",
    "list_clip_backends",
    "load_clip_model",
    "register_clip_backend",
    "unavailable_summary",
    "zero_shot_predict",
]
