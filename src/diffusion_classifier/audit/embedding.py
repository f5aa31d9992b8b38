"""Image embeddings for the filter heads: the injected interface and the real CLIP L/14.

Both LAION heads take the OpenAI CLIP ViT-L/14 image embedding. Scoring receives the
embedder as a plain callable so tests (and other encoders) plug in without open_clip; the
real one is built only on request by :func:`load_clip_l14_embedder`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

#: ``embed(images) -> Tensor [N, 768]``: raw (unnormalised) image embeddings.
EmbedFn = Callable[[list[Image.Image]], torch.Tensor]

CLIP_L14_DIM = 768


def l2_normalize(embeddings: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each row to unit L2 norm, as LAION does before both heads.

    Args:
        embeddings: Tensor [N, D].
        eps: Guards against division by zero.

    Returns:
        Tensor [N, D] of unit rows (float32).
    """
    embeddings = embeddings.float()
    return embeddings / embeddings.norm(dim=-1, keepdim=True).clamp_min(eps)


def load_clip_l14_embedder(
    device: str | torch.device = "cpu",
    pretrained: str | Path = "openai",
    cache_dir: str | Path | None = None,
) -> EmbedFn:
    """Build the OpenAI CLIP ViT-L/14 image embedder through open_clip.

    QuickGELU is forced because the OpenAI weights were trained with it; without it
    open_clip would build a GELU model whose embeddings differ from the original.

    Args:
        device: Where the encoder runs.
        pretrained: open_clip pretrained tag, or a local checkpoint path for offline use.
        cache_dir: open_clip's download cache.

    Returns:
        A callable mapping a list of PIL images to raw embeddings [N, 768] on CPU.

    Raises:
        ImportError: If open_clip is not installed.
        RuntimeError: If the weights cannot be obtained (e.g. offline without a cache).
    """
    try:
        import open_clip  # noqa: PLC0415 - optional dependency, loaded on demand
    except ImportError as exc:
        raise ImportError(
            "the CLIP ViT-L/14 embedder needs open_clip: `pip install open_clip_torch` "
            "(or install this package with the `clip` extra)"
        ) from exc
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            "ViT-L-14",
            pretrained=str(pretrained),
            device=device,
            cache_dir=None if cache_dir is None else str(cache_dir),
            force_quick_gelu=True,
        )
    except Exception as exc:  # open_clip raises many types for missing/offline weights
        raise RuntimeError(
            f"could not load OpenAI CLIP ViT-L/14 weights (pretrained={pretrained!r}): {exc}. "
            "They are downloaded once from the hub; offline, pass pretrained=<local "
            "checkpoint path> or a cache_dir that already holds them."
        ) from exc
    model.eval()

    @torch.inference_mode()
    def embed(images: list[Image.Image]) -> torch.Tensor:
        batch = torch.stack([preprocess(image) for image in images]).to(device)
        return model.encode_image(batch).float().cpu()

    return embed
