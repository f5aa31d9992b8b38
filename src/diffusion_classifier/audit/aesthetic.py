"""The LAION "improved aesthetic predictor" head used to filter SD 2.0's training data.

The published file ``sac+logos+ava1-l14-linearMSE.pth`` is a plain torch state dict for
an MLP whose only submodule is ``layers`` (an ``nn.Sequential``). The module below keeps
exactly that layout - including the Dropout positions, which fix the key indices
``layers.0/2/4/6/7`` - so the file loads with ``strict=True``. There are no activations:
the predictor is a linear map of the L2-normalised OpenAI CLIP ViT-L/14 image embedding.
SD 2.0 kept images scoring >= 4.5 (paper Table 2).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diffusion_classifier.audit._heads import LoadedHead, loaded_head, read_state
from diffusion_classifier.audit.weights import (
    AESTHETIC_L14,
    WeightsSpec,
    get_weights_spec,
    verify_weights_file,
)

EMBED_DIM = 768
AESTHETIC_THRESHOLD = 4.5
#: Public URL of ``sac+logos+ava1-l14-linearMSE.pth`` (kept once, in the weights registry).
AESTHETIC_URL = get_weights_spec(AESTHETIC_L14).url

#: State-dict layout of the published file (torch Linear weights are (out, in)).
AESTHETIC_STATE_LAYOUT: dict[str, tuple[int, ...]] = {
    "layers.0.weight": (1024, EMBED_DIM),
    "layers.0.bias": (1024,),
    "layers.2.weight": (128, 1024),
    "layers.2.bias": (128,),
    "layers.4.weight": (64, 128),
    "layers.4.bias": (64,),
    "layers.6.weight": (16, 64),
    "layers.6.bias": (16,),
    "layers.7.weight": (1, 16),
    "layers.7.bias": (1,),
}


class AestheticHead(nn.Module):
    """MLP 768 -> 1024 -> 128 -> 64 -> 16 -> 1 with dropout and no activations.

    Input: L2-normalised CLIP ViT-L/14 image embeddings, shape [N, 768].
    Output: aesthetic scores, shape [N] (roughly 1-10).
    """

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(EMBED_DIM, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Score a batch of normalised embeddings.

        Args:
            embeddings: Tensor [N, 768], already L2-normalised.

        Returns:
            Tensor [N] of aesthetic scores.
        """
        return self.layers(embeddings).squeeze(-1)


def load_aesthetic_head(
    path: str | Path,
    spec: WeightsSpec | None = None,
    device: str | torch.device = "cpu",
) -> LoadedHead[AestheticHead]:
    """Verify and load the published aesthetic state dict.

    Args:
        path: The ``.pth`` file.
        spec: Registry entry giving the expected sha256; defaults to
            ``laion-aesthetic-l14``. Tests pass their own spec for random weights.
        device: Where the head runs.

    Returns:
        The head in eval mode with its checksum record.

    Raises:
        ChecksumMismatchError: If the file differs from the recorded sha256.
        WeightsLayoutError: If keys or shapes differ from :data:`AESTHETIC_STATE_LAYOUT`.
    """
    spec = spec or get_weights_spec(AESTHETIC_L14)
    check = verify_weights_file(path, spec)
    fix = f"download the original {spec.filename} from {spec.url}"
    state = read_state(path, lambda p: torch.load(p, map_location="cpu", weights_only=True), fix)
    return loaded_head(AestheticHead(), state, AESTHETIC_STATE_LAYOUT, path, fix, check, device)
