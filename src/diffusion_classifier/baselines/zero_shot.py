"""Zero-shot classification with a CLIP-style model: one prompt per class, cosine argmax.

The prompts are the Diffusion Classifier's: where a dataset has the authors' released
prompt table (every paper dataset), stage ``clip_zero_shot`` reads the same table, so both
methods see the same text (Pets' " cat"/" dog" wording included); otherwise one prompt per
class from the zero-shot template (paper Sec. 5.1, :func:`class_prompts`). An image's logits are the
cosine similarities of its embedding with each prompt's embedding; the prediction is the
argmax (the logit scale of CLIP does not change it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .clip_models import ClipModel

__all__ = ["class_prompts", "cosine_logits", "zero_shot_predict"]


def class_prompts(template: str, class_names: Sequence[str]) -> list[str]:
    """``template.format(name)`` for every class, in label order."""
    if template.count("{}") != 1:
        raise ValueError(f"prompt template {template!r} must contain exactly one '{{}}'")
    return [template.format(name) for name in class_names]


def cosine_logits(image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each image [N, D] with each text [K, D] -> [N, K]."""
    image = image_features / image_features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    text = text_features / text_features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return image @ text.T


def zero_shot_predict(
    clip: ClipModel,
    images: Iterable[Image.Image],
    prompts: Sequence[str],
    batch_size: int = 64,
    total: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Classify ``images`` among ``prompts``.

    Args:
        clip: The loaded model.
        images: PIL images (a generator is fine; they are batched here).
        prompts: One prompt per class, in label order.
        batch_size: Images embedded per forward pass.
        total: Number of images, for the progress bar.

    Returns:
        ``(predictions [N], logits [N, K])``: label indices and cosine similarities.
    """
    text = clip.embed_texts(prompts)
    predictions, logits, batch = [], [], []

    def flush() -> None:
        scores = cosine_logits(clip.embed_images(batch), text)
        logits.append(scores.numpy())
        predictions.append(scores.argmax(dim=1).numpy())
        batch.clear()

    for image in tqdm(images, total=total, desc=f"zero-shot {clip.model_id}", mininterval=5):
        batch.append(image)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not logits:
        raise ValueError("no images to classify")
    return np.concatenate(predictions), np.concatenate(logits)
