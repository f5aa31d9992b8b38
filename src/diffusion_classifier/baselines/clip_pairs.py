"""CLIP caption-image scores of caption-pair examples (Winoground, paper Table 3).

s(C, I) is the cosine similarity of caption C and image I in the model's joint space.
The scores come out as the table every caption-pair scorer gives (``image_id, caption,
score``), so the text / image / group outcomes and their summary are
:mod:`diffusion_classifier.compositional.scores`'s, exactly as for the diffusion
classifier.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from PIL import Image
from tqdm.auto import tqdm

from .clip_models import ClipModel

__all__ = ["clip_pair_scores"]


def clip_pair_scores(
    clip: ClipModel,
    examples: pd.DataFrame,
    load_image: Callable[[str], Image.Image],
    batch_size: int = 16,
) -> pd.DataFrame:
    """Cosine similarity of every example image with both of its example's captions.

    Args:
        clip: The loaded model.
        examples: Caption-pair examples (:func:`..data.pairs.load_examples`).
        load_image: Opens a manifest image id (an ``image_0`` / ``image_1`` cell).
        batch_size: Examples per forward pass.

    Returns:
        ``image_id, caption, score``: two rows (captions 0 and 1) per example image.
    """
    rows = []
    for start in tqdm(range(0, len(examples), batch_size), desc=f"winoground {clip.model_id}", mininterval=5):
        part = examples.iloc[start:start + batch_size]
        captions = clip.embed_texts([*part["caption_0"], *part["caption_1"]])
        images = clip.embed_images([load_image(v) for v in [*part["image_0"], *part["image_1"]]])
        n = len(part)
        text = torch.stack([captions[:n], captions[n:]], dim=1)    # [n, caption, D]
        image = torch.stack([images[:n], images[n:]], dim=1)       # [n, image, D]
        similarity = torch.einsum("ncd,nid->nci", text, image).numpy()
        for k, example in enumerate(part.itertuples(index=False)):
            for slot, image_id in enumerate((example.image_0, example.image_1)):
                rows += [{"image_id": str(image_id), "caption": caption, "score": float(similarity[k, caption, slot])}
                         for caption in (0, 1)]
    return pd.DataFrame(rows, columns=["image_id", "caption", "score"])
