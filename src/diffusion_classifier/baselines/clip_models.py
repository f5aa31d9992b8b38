"""CLIP-style image-text models for the baselines: spec, backend registry, loading.

The baselines (CLIP ResNet-50 and OpenCLIP ViT-H/14 zero-shot, Table 1; CLIP ViT-L/14 and
OpenCLIP ViT-H/14 on Winoground, Table 3) only need two things of a model: normalised
image embeddings and normalised text embeddings in one space. :class:`ClipModel` wraps
any object with ``encode_image(pixels)`` / ``encode_text(tokens)`` (open_clip's interface)
with its preprocessing and tokenizer, so tests plug in a tiny random stand-in through the
same registry the real loader uses.

Weights are never invented: when a backend cannot provide its weights offline it raises
:class:`ClipUnavailable`, and the stages write an "n/a (...)" row instead of a number
(unless the spec says ``required: true``, as the paper-scale config does). open_clip is
imported only inside its loader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..data.images import convert_image
from .._registry import Registry
from ..audit.weights import WeightsSpec, verify_weights_file
from ..specs import ClipModelSpec

__all__ = [
    "WEIGHTS_UNAVAILABLE",
    "ClipModel",
    "ClipUnavailable",
    "get_clip_backend",
    "list_clip_backends",
    "load_clip_model",
    "register_clip_backend",
]

log = logging.getLogger(__name__)

#: Short reason shown in tables when a model's weights cannot be had offline.
WEIGHTS_UNAVAILABLE = "weights not available offline"


class ClipUnavailable(RuntimeError):
    """A CLIP model cannot be loaded here (missing package or weights), with the reason.

    Attributes:
        reason: Few words for a table cell ("weights not available offline").
        detail: What is missing and how to provide it.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ClipModel:
    """A loaded image-text model and what it needs around it.

    Attributes:
        model: Object with ``encode_image(Tensor[N,C,H,W])`` and ``encode_text(Tensor)``.
        preprocess: PIL image -> Tensor [C, H, W].
        tokenize: List of texts -> token Tensor.
        model_id: ``backend:architecture/pretrained``.
        device: Where ``model`` runs.
        weights: Provenance of the weights (path, sha256) when known.
    """

    model: Any
    preprocess: Callable[[Image.Image], torch.Tensor]
    tokenize: Callable[[list[str]], torch.Tensor]
    model_id: str
    device: torch.device
    weights: dict[str, Any]

    @torch.inference_mode()
    def embed_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """L2-normalised image embeddings [N, D] (float32, CPU)."""
        pixels = torch.stack([self.preprocess(convert_image(image, "RGB")) for image in images]).to(self.device)
        return _normalise(self.model.encode_image(pixels))

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings [N, D] (float32, CPU)."""
        tokens = self.tokenize(list(texts)).to(self.device)
        return _normalise(self.model.encode_text(tokens))


def _normalise(features: torch.Tensor) -> torch.Tensor:
    features = features.float().cpu()
    return features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)


ClipLoader = Callable[[ClipModelSpec, torch.device], ClipModel]
CLIP_BACKENDS: Registry[ClipLoader] = Registry("CLIP backend")
#: ``@register_clip_backend(name)`` registers ``loader(spec, device) -> ClipModel``.
register_clip_backend = CLIP_BACKENDS.register
get_clip_backend = CLIP_BACKENDS.get


def list_clip_backends() -> list[str]:
    return CLIP_BACKENDS.names()


def load_clip_model(spec: ClipModelSpec, device: torch.device | str = "cpu") -> ClipModel:
    """Load ``spec`` with its backend.

    Raises:
        ClipUnavailable: The package or the weights are missing (callers report n/a,
            or fail when ``spec.required``).
        ChecksumMismatchError: A local checkpoint differs from ``spec.sha256``.
    """
    return get_clip_backend(spec.backend)(spec, torch.device(device))


def _local_weights(spec: ClipModelSpec) -> tuple[str, dict[str, Any]]:
    """What to pass as open_clip's ``pretrained``: a verified local file, or the tag."""
    how_to = (f"obtain {spec.architecture} weights {spec.pretrained!r} once on a connected machine "
              f"(open_clip.create_model_and_transforms({spec.architecture!r}, pretrained={spec.pretrained!r}) "
              "downloads them into its cache) and copy the checkpoint file")
    if spec.checkpoint:
        path = Path(spec.checkpoint)
        if path.is_file():
            check = verify_weights_file(path, WeightsSpec(
                name=spec.model_id, filename=path.name, url=f"open_clip pretrained={spec.pretrained}",
                sha256=spec.sha256, format="torch-state-dict", description=spec.label or spec.model_id))
            return str(path), {"path": str(path), "sha256": check.sha256, "verified": check.verified}
        if not spec.allow_download:
            raise ClipUnavailable(WEIGHTS_UNAVAILABLE, f"{path} does not exist; {how_to} to {path}")
    elif not spec.allow_download:
        raise ClipUnavailable(WEIGHTS_UNAVAILABLE, f"no local checkpoint configured and downloads are off; "
                                                   f"{how_to} and set its path as 'checkpoint'")
    return spec.pretrained, {"pretrained": spec.pretrained}


@register_clip_backend("open_clip")
def _load_open_clip(spec: ClipModelSpec, device: torch.device) -> ClipModel:
    """OpenAI CLIP and OpenCLIP models through the open_clip package."""
    pretrained, weights = _local_weights(spec)
    try:
        import open_clip  # noqa: PLC0415 - optional dependency, loaded on demand
    except ImportError:
        raise ClipUnavailable(WEIGHTS_UNAVAILABLE, "the open_clip package is not installed "
                                                   "(pip install open_clip_torch)") from None
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            spec.architecture, pretrained=pretrained, device=device,
            force_quick_gelu=spec.quick_gelu, cache_dir=spec.cache_dir)
    except Exception as exc:  # open_clip raises many types for absent or unreachable weights
        raise ClipUnavailable(WEIGHTS_UNAVAILABLE, f"open_clip could not load {spec.model_id}: {exc}") from exc
    model.eval()
    tokenizer = open_clip.get_tokenizer(spec.architecture)
    return ClipModel(model, preprocess, tokenizer, spec.model_id, device, weights)
