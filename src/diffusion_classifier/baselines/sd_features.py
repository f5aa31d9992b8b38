"""Table 1's "SD Features" row: a classifier trained on Stable Diffusion U-Net features.

Following the paper's description of the baseline, every labelled image is encoded
(VAE posterior mean x scaling factor; pixels for the pixel-space embedded model),
noised to ``t = 100`` with a per-image seed, and passed once through the UNet with the
class-agnostic (empty-prompt) embedding. A forward hook on ``unet.mid_block`` keeps its
output: the lowest-resolution map of the UNet, after its attention.

Which layer and why: the paper quotes an ``8 x 8 x 1024`` feature map for 64x64
latents. SD 2.0's UNet (``block_out_channels = (320, 640, 1280, 1280)``) has *no*
1024-channel layer: its mid block outputs ``1280 x 8 x 8`` for a 64x64 latent (512x512
image), the only 8x8 map besides the last down block's, which has the same 1280
channels. We take the mid-block output (``[N, 1280, 8, 8]`` at paper scale) as the closest
match of resolution and depth, and record the shape in the feature file; the "1024"
cannot be reproduced with SD 2.0 and is most likely a typo or a different checkpoint.
The embedded ``digits_text`` model's mid block gives ``[N, C_last, 16 / 2^(L-1), ...]``
for 16x16 digits (``C_last``, ``L``: its last ``block_out_channels`` and their count):
``32 x 4 x 4`` for the mini config's (16, 32, 32), ``16 x 8 x 8`` for the micro (8, 16).

Features are stored in half precision, one safetensors file per split (``features``
``[N, C, h, w]`` fp16, ``labels`` int64) with an ``index.csv`` (image_id, label, seed),
computed once per dataset x model and reused by every classifier run; with
``baselines.features.shard_size``, in shards written as they are extracted and streamed
to train (:mod:`.feature_shards`: ImageNet's full training set).

The classifier is a timm model whose stem accepts the map: :func:`adapt_stem` turns a
timm ResNet's 7x7/stride-2 conv + max-pool into a 3x3/stride-1 conv with ``in_chans``
inputs, so an 8x8 map is not reduced to 2x2 before the first stage
(``sd_feature_resnet50`` at paper scale, ``sd_feature_test_resnet`` embedded).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from timm.models import register_model
from torch import nn
from tqdm.auto import tqdm

from ..artifacts.io import atomic_directory, write_json
from ..artifacts.provenance import code_version
from ..engine.noising import forward_noise
from ..engine.seeding import image_seed
from ..specs import FeatureSpec

__all__ = ["FEATURES_FILE", "INDEX_FILE", "mid_block_features", "noised_latents", "split_batches", "extract_split",
           "write_features", "read_features", "train_stream", "adapt_stem"]

log = logging.getLogger(__name__)

FEATURES_FILE = "features.safetensors"
INDEX_FILE = "index.csv"


def noised_latents(x0: torch.Tensor, seeds: Sequence[int], timestep: int, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """``sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``, eps drawn on the CPU from each image's seed."""
    if not 0 <= timestep < len(alphas_cumprod):
        raise ValueError(f"timestep {timestep} outside the model's schedule 0..{len(alphas_cumprod) - 1}")
    noise = torch.stack([torch.randn(x0.shape[1:], generator=torch.Generator("cpu").manual_seed(int(s)))
                         for s in seeds]).to(x0.device, x0.dtype)
    return forward_noise(x0, noise, float(alphas_cumprod[timestep]))


@torch.no_grad()
def mid_block_features(predictor, pixels: torch.Tensor, seeds: Sequence[int], timestep: int,
                       condition: torch.Tensor) -> torch.Tensor:
    """Output of ``unet.mid_block`` for noised images, ``[N, C, h, w]`` (CPU float32).

    Args:
        predictor: Text-conditional predictor (``unet``, ``encode``, ``alphas_cumprod``).
        pixels: Images in [-1, 1], ``[N, C, H, W]``.
        seeds: One noise seed per image.
        timestep: Noise level.
        condition: ``[1, length, width]`` embedding of the class-agnostic prompt.
    """
    captured: list[torch.Tensor] = []
    hook = predictor.unet.mid_block.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        x0 = predictor.encode(pixels.to(predictor.device, predictor.dtype))
        x_t = noised_latents(x0, seeds, timestep, predictor.alphas_cumprod)
        t = torch.full((len(x_t),), timestep, device=x_t.device, dtype=torch.long)
        predictor.unet(x_t, t, encoder_hidden_states=condition.to(x_t.device, x_t.dtype).expand(len(x_t), -1, -1))
    finally:
        hook.remove()
    if len(captured) != 1:
        raise RuntimeError(f"unet.mid_block ran {len(captured)} times in one forward pass; expected once")
    return captured[0].float().cpu()


def split_batches(predictor, dataset, split: str, spec: FeatureSpec, image_transform, condition: torch.Tensor):
    """One split's maps as a generator of fp16 batches (in row order), its labels and index."""
    rows = dataset.split(split)
    if rows.empty:
        raise ValueError(f"{dataset.root} has no images in split {split!r}")
    seeds = [image_seed(spec.seed, f"{split}/{i}") for i in rows["image_id"]]

    def batches():
        for start in tqdm(range(0, len(rows), spec.batch_size), desc=f"features {dataset.name}/{split}",
                          mininterval=5):
            # Decoded one batch at a time: a split of ImageNet train does not fit in memory as images.
            batch = rows.iloc[start:start + spec.batch_size]
            pixels = torch.stack([image_transform(im) for _, im in dataset.iter_images(batch)])
            yield mid_block_features(predictor, pixels, seeds[start:start + spec.batch_size], spec.timestep,
                                     condition).half()

    index = pd.DataFrame({"image_id": rows["image_id"].astype(str).to_numpy(), "label": rows["label"].to_numpy(),
                          "seed": seeds})
    return batches(), torch.tensor(rows["label"].to_numpy(), dtype=torch.long), index


def extract_split(predictor, dataset, split: str, spec: FeatureSpec, image_transform, condition: torch.Tensor):
    """Features, labels and index of one split of a prepared dataset (held in memory)."""
    batches, labels, index = split_batches(predictor, dataset, split, spec, image_transform, condition)
    return torch.cat(list(batches)), labels, index


def write_features(out_dir: str | Path, splits: dict, provenance: dict, shard_size: int | None = None) -> Path:
    """``<split>/features.safetensors`` + ``<split>/index.csv`` per split, and provenance.

    ``splits`` maps a split to ``(features, labels, index)``; with ``shard_size`` the
    features may be an iterable of batches, written as they come in shards of that many
    maps (:mod:`.feature_shards`) instead of one file.
    """
    from ..artifacts.tensors import save_tensors
    from .feature_shards import FeatureShards, shard_paths, write_shards

    with atomic_directory(out_dir) as tmp:
        shapes = {}
        for split, (features, labels, index) in splits.items():
            (tmp / split).mkdir()
            if shard_size is None:
                save_tensors({"features": features, "labels": labels}, tmp / split / FEATURES_FILE)
                shapes[split] = list(features.shape)
            else:
                write_shards(tmp / split, [features] if torch.is_tensor(features) else features, labels, shard_size)
                shapes[split] = [len(labels), *FeatureShards(shard_paths(tmp / split)).feature_shape]
            index.to_csv(tmp / split / INDEX_FILE, index=False)
        extra = {} if shard_size is None else {"shard_size": shard_size}
        write_json(tmp / "provenance.json", {**provenance, "shapes": shapes, "dtype": "float16",
                                             "layer": "unet.mid_block", **extra, "code_version": code_version()})
    return Path(out_dir)


def read_features(root: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (float32) and labels of one split written by :func:`write_features` (shards joined)."""
    from safetensors.torch import load_file

    from .feature_shards import FeatureShards, shard_paths

    path = Path(root) / split / FEATURES_FILE
    shards = shard_paths(Path(root) / split)
    if not path.exists() and shards:
        stream = FeatureShards(shards)
        parts = [stream.load(k) for k in range(len(shards))]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run rule extract_sd_features with split {split!r} listed "
                                "in baselines.features.splits")
    tensors = load_file(path)
    return tensors["features"].float(), tensors["labels"]


def train_stream(root: str | Path, split: str = "train"):
    """The train maps of a sharded split as a stream (:class:`.feature_shards.FeatureShards`), else None."""
    from .feature_shards import FeatureShards, shard_paths

    shards = shard_paths(Path(root) / split)
    return FeatureShards(shards) if shards and not (Path(root) / split / FEATURES_FILE).exists() else None


# --- classifiers whose stem takes a small, wide feature map -----------------------------
def adapt_stem(model: nn.Module, in_chans: int) -> nn.Module:
    """Make a timm ResNet's stem keep the input resolution.

    The ImageNet stem (7x7 stride-2 conv, 3x3 stride-2 max-pool) becomes a 3x3 stride-1
    conv with no pooling; a deep stem (three 3x3 convs) loses its stride and pooling.

    An 8x8 map through the ImageNet stem would be 2x2 before the first residual stage;
    with this stem the stages see 8, 4, 2, 1 (ResNet-50).
    """
    stem = getattr(model, "conv1", None)
    if isinstance(stem, nn.Conv2d):
        model.conv1 = nn.Conv2d(in_chans, stem.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    elif isinstance(stem, nn.Sequential) and isinstance(stem[0], nn.Conv2d) and hasattr(model, "maxpool"):
        stem[0].stride = (1, 1)  # deep stem (3x3 convs already, e.g. test_resnet): only drop its stride
    else:
        raise ValueError(f"{type(model).__name__} has no ResNet stem (conv1 + maxpool) to adapt")
    model.maxpool = nn.Identity()
    return model


def _feature_resnet(base: str, pretrained: bool, in_chans: int, **kwargs) -> nn.Module:
    import timm

    if pretrained:
        raise ValueError(f"sd_feature_{base} is trained from scratch on feature maps: set pretrained: false")
    model = timm.create_model(base, pretrained=False, in_chans=in_chans, **kwargs)
    return adapt_stem(model, in_chans)


@register_model
def sd_feature_resnet50(pretrained: bool = False, in_chans: int = 1280, **kwargs) -> nn.Module:
    """ResNet-50 for SD-2 mid-block maps (1280 x 8 x 8): the paper-scale feature classifier."""
    return _feature_resnet("resnet50", pretrained, in_chans, **kwargs)


@register_model
def sd_feature_test_resnet(pretrained: bool = False, in_chans: int = 32, **kwargs) -> nn.Module:
    """timm's tiny ``test_resnet`` with the same adapted stem: the embedded feature classifier."""
    return _feature_resnet("test_resnet", pretrained, in_chans, **kwargs)
