"""Registry of small architectures the pipeline trains itself.

Each builder returns a fresh diffusers model with random weights. The tiny entries
are ordinary registry members (as timm's ``test_*`` models are), so the embedded
default and the tests run exactly the code path that loads a hub checkpoint.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .._registry import Registry

__all__ = ["register_architecture", "build_architecture", "list_architectures"]

ARCHITECTURES: Registry[Callable[..., torch.nn.Module]] = Registry("architecture")
register_architecture = ARCHITECTURES.register


def list_architectures() -> list[str]:
    return ARCHITECTURES.names()


def build_architecture(name: str, **kwargs: Any) -> torch.nn.Module:
    """Build ``name`` with ``kwargs`` overriding its defaults (``None`` values are ignored)."""
    return ARCHITECTURES.get(name)(**{k: v for k, v in kwargs.items() if v is not None})


@register_architecture("tiny_unet")
def tiny_unet(
    *,
    num_classes: int,
    sample_size: int = 16,
    in_channels: int = 1,
    block_out_channels: tuple[int, ...] = (16, 32, 32),
    layers_per_block: int = 1,
    learned_variance: bool = False,
) -> torch.nn.Module:
    """A ~0.3 M-parameter class-conditional UNet2DModel with attention at the lowest level.

    Sized for 2 CPU cores (measured: see the embedded default's benchmark): diffusers' default widths are
    several times slower there for no gain on 16x16 digits. With
    ``learned_variance`` the output has twice the input channels (eps and the
    improved-DDPM variance interpolation), as DiT's has.
    """
    from diffusers import UNet2DModel

    depth = len(block_out_channels)
    down = ["DownBlock2D"] * (depth - 1) + ["AttnDownBlock2D"]
    up = ["AttnUpBlock2D"] + ["UpBlock2D"] * (depth - 1)
    return UNet2DModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels * (2 if learned_variance else 1),
        layers_per_block=layers_per_block,
        block_out_channels=tuple(block_out_channels),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=8,
        attention_head_dim=8,
        num_class_embeds=num_classes,
    )


@register_architecture("tiny_dit")
def tiny_dit(
    *,
    num_classes: int,
    sample_size: int = 16,
    in_channels: int = 1,
    patch_size: int = 2,
    num_layers: int = 4,
    num_attention_heads: int = 4,
    attention_head_dim: int = 16,
    learned_variance: bool = True,
) -> torch.nn.Module:
    """A small DiT (diffusers' DiTTransformer2DModel), learned sigma like DiT-XL/2."""
    from diffusers import DiTTransformer2DModel

    return DiTTransformer2DModel(
        num_attention_heads=num_attention_heads,
        attention_head_dim=attention_head_dim,
        in_channels=in_channels,
        out_channels=in_channels * (2 if learned_variance else 1),
        num_layers=num_layers,
        sample_size=sample_size,
        patch_size=patch_size,
        norm_num_groups=8,
        num_embeds_ada_norm=num_classes,
    )


# --- text-conditional (Stable-Diffusion-shaped) --------------------------------------
@register_architecture("tiny_text_unet")
def tiny_text_unet(
    *,
    cross_attention_dim: int,
    sample_size: int = 16,
    in_channels: int = 1,
    block_out_channels: tuple[int, ...] = (16, 32, 32),
    layers_per_block: int = 1,
    attention_levels: int = 1,
    attention_head_dim: int = 8,
) -> torch.nn.Module:
    """A small UNet2DConditionModel: SD's architecture, cross-attention at the lowest levels.

    ``attention_levels`` counts the resolution levels, from the lowest up, whose
    blocks cross-attend to the text (the mid block always does). One level at 4x4
    runs at about the speed of ``tiny_unet`` on 2 CPU cores; each further level at
    a higher resolution costs several times more.
    """
    from diffusers import UNet2DConditionModel

    depth = len(block_out_channels)
    if not 1 <= attention_levels <= depth:
        raise ValueError(f"attention_levels must be in 1..{depth}, got {attention_levels}")
    plain = depth - attention_levels
    down = ["DownBlock2D"] * plain + ["CrossAttnDownBlock2D"] * attention_levels
    up = ["CrossAttnUpBlock2D"] * attention_levels + ["UpBlock2D"] * plain
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        layers_per_block=layers_per_block,
        block_out_channels=tuple(block_out_channels),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=attention_head_dim,
        norm_num_groups=8,
    )
