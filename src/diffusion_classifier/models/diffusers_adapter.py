"""What the two diffusers adapters share (class-conditional UNet/DiT, Stable Diffusion).

Both hold a frozen network on one device and dtype, the training schedule of its own
scheduler, an optional ``AutoencoderKL`` for latent models, and the provenance of
their weights; both encode images the same way: the VAE posterior *mean* times the
scaling factor (as the authors' release encodes images), or the pixels themselves for
a pixel-space model.
"""

from __future__ import annotations

import torch

from ..engine.predictor import NoisePredictor
from .loading import place_frozen

__all__ = ["DiffusersPredictor"]


class DiffusersPredictor(NoisePredictor):
    """Base of the diffusers adapters: placement, schedule, VAE, :meth:`encode`, weights hash.

    Args:
        network: The noise network, already placed (its ``config.in_channels`` is read).
        alphas_cumprod: The network's training schedule.
        vae: Optional ``AutoencoderKL`` (latent models); placed and frozen here.
        model_id: Name recorded in artifacts.
        weights_hash: Content hash of the weight files, recorded in artifacts.
        device: Where the network runs.
        dtype: Dtype of the network's inputs.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        alphas_cumprod: torch.Tensor,
        vae: torch.nn.Module | None,
        model_id: str,
        weights_hash: str,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.device = device
        self.dtype = dtype
        self.vae = None if vae is None else place_frozen(vae, device, dtype)
        self.alphas_cumprod = alphas_cumprod.detach().to("cpu", torch.float64)
        self.model_id = model_id
        self._weights_hash = weights_hash
        self.in_channels = int(network.config.in_channels)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Pixels in [-1, 1] -> the VAE posterior mean times the scaling factor (pixels for pixel models)."""
        if self.vae is None:
            if images.shape[1] != self.in_channels:
                raise ValueError(
                    f"model {self.model_id!r} takes {self.in_channels}-channel images, got "
                    f"{images.shape[1]} channels: set the model's image channels (image.channels) to {self.in_channels}"
                )
            return images
        latent = self.vae.encode(images.to(self.device, self.dtype)).latent_dist.mean
        return latent * self.vae.config.scaling_factor

    def weights_hash(self) -> str:
        return self._weights_hash
