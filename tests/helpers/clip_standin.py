"""Tiny stand-ins for CLIP with open_clip's interface (encode_image / encode_text).

Registered as the CLIP backend ``test_tiny_clip`` so stages load them by name, exactly
as they load open_clip models. Two architectures:

* ``colors``: a 1x1-pixel image's embedding is its RGB colour; the words "red", "green"
  and "blue" embed as the unit axes, every other word as zero. Outcomes can be worked
  out by hand.
* ``random``: random linear maps (seeded by ``pretrained``) on 4x4 images and a 32-word
  hashed vocabulary, checked against an independent numpy computation.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from diffusion_classifier.baselines import ClipModel, list_clip_backends, register_clip_backend
from diffusion_classifier.specs import ClipModelSpec

BACKEND = "test_tiny_clip"
COLOR_WORDS = {"red": 0, "green": 1, "blue": 2}
VOCAB, MAX_TOKENS, DIM = 32, 12, 5


def word_id(word: str) -> int:
    """Deterministic hashed vocabulary; id 0 is padding."""
    return 1 + sum(word.encode()) % (VOCAB - 1)


def tokenize(texts: list[str]) -> torch.Tensor:
    tokens = torch.zeros(len(texts), MAX_TOKENS, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = [word_id(w) for w in text.lower().replace(".", " ").replace(",", " ").split()][:MAX_TOKENS]
        tokens[row, : len(ids)] = torch.tensor(ids)
    return tokens


def pixels(image: Image.Image, size: int) -> torch.Tensor:
    array = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class TinyClip(torch.nn.Module):
    """Linear image and bag-of-words text encoders."""

    def __init__(self, image_proj: torch.Tensor, token_embedding: torch.Tensor):
        super().__init__()
        self.image_proj = torch.nn.Parameter(image_proj, requires_grad=False)
        self.token_embedding = torch.nn.Parameter(token_embedding, requires_grad=False)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) @ self.image_proj

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token_embedding[tokens].sum(dim=1)


def random_weights(seed: int, size: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    image_proj = torch.randn(3 * size * size, DIM, generator=generator)
    embedding = torch.randn(VOCAB, DIM, generator=generator)
    embedding[0] = 0.0  # padding
    return image_proj, embedding


def color_weights() -> tuple[torch.Tensor, torch.Tensor]:
    embedding = torch.zeros(VOCAB, 3)
    for word, axis in COLOR_WORDS.items():
        embedding[word_id(word), axis] = 1.0
    return torch.eye(3), embedding


def _load(spec: ClipModelSpec, device: torch.device) -> ClipModel:
    if spec.architecture == "colors":
        size, (image_proj, embedding) = 1, color_weights()
    elif spec.architecture == "random":
        size, (image_proj, embedding) = 4, random_weights(int(spec.pretrained))
    else:
        raise ValueError(f"unknown stand-in architecture {spec.architecture!r}")
    model = TinyClip(image_proj, embedding).to(device)
    return ClipModel(model, lambda image: pixels(image, size), tokenize, spec.model_id, device, {"stand_in": True})


if BACKEND not in list_clip_backends():
    register_clip_backend(BACKEND)(_load)


def spec(architecture: str, pretrained: str = "0", **extra) -> dict:
    """A ``baselines.clip_models`` entry for the stand-in."""
    return {"architecture": architecture, "pretrained": pretrained, "backend": BACKEND, **extra}
