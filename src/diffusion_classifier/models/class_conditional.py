"""Adapter for class-conditional diffusers models: UNet2DModel with class embeddings
and DiT (DiTTransformer2DModel, eps channels split from learned-sigma channels).

A checkpoint is a diffusers-style directory (or hub id) holding ``unet/`` or
``transformer/``, ``scheduler/`` and, for latent models, ``vae/``: the layout of
``facebook/DiT-XL-2-256`` and of the tiny models the pipeline trains itself.

The VAE of a DiT is the one shipped in its checkpoint's ``vae/``. DiT was trained
on the latents of ``stabilityai/sd-vae-ft-ema``, which the authors' release loads
next to the DiT weights, and diffusers' conversion of DiT packs that VAE into the
hub repositories. ft-EMA and ft-MSE fine-tuned only the decoder of Stable
Diffusion's kl-f8 autoencoder, so the encoder (the posterior mean is all that
scoring uses) is the same in either; what must hold is the latent space itself,
which :data:`DIT_LATENT_SPACE` states and :func:`check_dit_vae` asserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine.predictor import NoisePrediction
from .diffusers_adapter import DiffusersPredictor
from .loading import (CheckpointError, load_component, load_scheduler, place_frozen, resolve_checkpoint,
                      weights_sha256)

__all__ = ["ClassConditionalPredictor", "LatentSpace", "DIT_LATENT_SPACE", "check_dit_vae"]


@dataclass(frozen=True)
class LatentSpace:
    """What a VAE must produce for a latent diffusion model trained on its latents.

    Attributes:
        source: The VAE the model was trained with (for the error message).
        image_channels: Channels of the images it encodes.
        latent_channels: Channels of the latent.
        downsampling: Image side / latent side.
        scaling_factor: Factor applied to the posterior mean.
    """

    source: str
    image_channels: int
    latent_channels: int
    downsampling: int
    scaling_factor: float

    def of(self, config) -> "LatentSpace":
        """The latent space an ``AutoencoderKL`` config describes."""
        return LatentSpace(self.source, int(config.in_channels), int(config.latent_channels),
                           2 ** (len(config.block_out_channels) - 1), float(config.scaling_factor))


# DiT-XL/2 (256 and 512): the kl-f8 latents of stabilityai/sd-vae-ft-ema, times 0.18215.
DIT_LATENT_SPACE = LatentSpace("stabilityai/sd-vae-ft-ema", image_channels=3, latent_channels=4,
                               downsampling=8, scaling_factor=0.18215)


def check_dit_vae(vae: torch.nn.Module, config_path: Path, expected: LatentSpace = DIT_LATENT_SPACE) -> None:
    """Refuse a DiT checkpoint whose ``vae/`` does not produce the latents DiT was trained on."""
    found = expected.of(vae.config)
    if found != expected:
        raise CheckpointError(
            f"{config_path}: this VAE maps {found.image_channels}-channel images to {found.latent_channels}-channel "
            f"latents at 1/{found.downsampling} scale times {found.scaling_factor}, but DiT was trained on "
            f"{expected.source}'s ({expected.image_channels} -> {expected.latent_channels} channels, 1/"
            f"{expected.downsampling}, times {expected.scaling_factor}): put that VAE in the checkpoint's vae/"
        )


class ClassConditionalPredictor(DiffusersPredictor):
    """eps_theta(x_t, t, y) of a class-conditional diffusers network.

    Args:
        network: ``UNet2DModel`` (``class_labels=``) or ``DiTTransformer2DModel``.
        alphas_cumprod: The training schedule of the network.
        vae: Optional ``AutoencoderKL`` for latent models (DiT).
        model_id: Name recorded in artifacts.
        weights_hash: Content hash of the weight files, recorded in artifacts.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        alphas_cumprod: torch.Tensor,
        vae: torch.nn.Module | None = None,
        model_id: str = "class-conditional",
        weights_hash: str = "",
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        device = torch.device(device)
        # Training-mode DiT drops 10% of labels to its null class: always score in eval.
        self.network = place_frozen(network, device, dtype)
        super().__init__(self.network, alphas_cumprod, vae, model_id, weights_hash, device, dtype)
        config = self.network.config
        out_channels = int(getattr(config, "out_channels", None) or self.in_channels)
        if out_channels not in (self.in_channels, 2 * self.in_channels):
            raise ValueError(
                f"{model_id}: out_channels={out_channels} is neither in_channels "
                f"({self.in_channels}) nor twice it (eps + learned variance)"
            )
        self.learns_variance = out_channels == 2 * self.in_channels
        self.num_classes = int(
            getattr(config, "num_class_embeds", None) or getattr(config, "num_embeds_ada_norm", None) or 0
        )

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> "ClassConditionalPredictor":
        """Load network, schedule and (if present) VAE from a directory or hub id."""
        root = resolve_checkpoint(name_or_path)
        subfolder = "transformer" if (root / "transformer").exists() else "unet"
        network = load_component(root, subfolder, dtype)
        vae = load_component(root, "vae", dtype) if (root / "vae").exists() else None
        if vae is not None and subfolder == "transformer":
            check_dit_vae(vae, root / "vae" / "config.json")
        scheduler = load_scheduler(root)
        return cls(network, scheduler.alphas_cumprod, vae, str(name_or_path),
                   weights_sha256(root), device, dtype)

    def conditioning(self, class_ids: list[int]) -> torch.Tensor:
        """The conditioning table: one model class id per candidate class.

        Candidates may be a subset of the model's classes (ImageNet-A's 200).
        """
        ids = torch.as_tensor(list(class_ids), dtype=torch.long)
        if len(ids) == 0:
            raise ValueError("the class list is empty: give at least one class to score against")
        if self.num_classes and (ids.min() < 0 or ids.max() >= self.num_classes):
            raise ValueError(
                f"class ids {ids.min().item()}..{ids.max().item()} are outside the "
                f"{self.num_classes} classes model {self.model_id!r} was trained on"
            )
        return ids.to(self.device)

    def predict(self, x_t, timesteps, conditions) -> NoisePrediction:
        out = self.network(x_t, timesteps, class_labels=conditions).sample
        if self.learns_variance:
            eps, variance = out.split(self.in_channels, dim=1)
            return NoisePrediction(eps, variance)
        return NoisePrediction(out)
