"""Baselines of the paper's tables that are not the Diffusion Classifier itself.

The discriminative zoo of the robustness study (:mod:`.zoo`, Table 4, Figure 6);
CLIP-style zero-shot classification (Table 1: CLIP ResNet-50, OpenCLIP ViT-H/14), their
Winoground scores (Table 3: CLIP ViT-L/14, OpenCLIP ViT-H/14), and the summary format
every Table 1 producer writes. Their config sections' dataclasses are in
:mod:`diffusion_classifier.specs`.

The names below load on first use (``lazy_loader``, SPEC 1), so the torch-free parts
(:mod:`.summary`, read by the table jobs) import no torch; open_clip only inside its loader.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "clip_models": ["WEIGHTS_UNAVAILABLE", "ClipModel", "ClipUnavailable", "get_clip_backend",
                        "list_clip_backends", "load_clip_model", "register_clip_backend"],
        "summary": ["OK", "UNAVAILABLE", "accuracy_summary", "unavailable_summary"],
        "clip_pairs": ["clip_pair_scores"],
        "zero_shot": ["class_prompts", "cosine_logits", "zero_shot_predict"],
    },
)
