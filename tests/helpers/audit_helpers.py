"""Builders for the audit tests: random heads in the published layouts, a deterministic
stand-in embedder and numpy forwards written independently of the package.

Nothing here touches the network: the "published" files are written with random weights
in exactly the layouts the real files use.
"""

from __future__ import annotations


import numpy as np
import torch
from PIL import Image

EMBED_DIM = 768

# Published aesthetic layout, written out by hand (not taken from the package).
AESTHETIC_SHAPES = {
    "layers.0": (1024, 768),
    "layers.2": (128, 1024),
    "layers.4": (64, 128),
    "layers.6": (16, 64),
    "layers.7": (1, 16),
}
# Keras NSFW layout: kernels are (in, out).
KERAS_DENSE = {"dense": (768, 64), "dense_1": (64, 512), "dense_2": (512, 256), "dense_3": (256, 1)}


def make_aesthetic_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the published layout, scaled so scores straddle 4.5."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, (fan_out, fan_in) in AESTHETIC_SHAPES.items():
        state[f"{name}.weight"] = torch.from_numpy(
            (rng.standard_normal((fan_out, fan_in)) * 2.0 / np.sqrt(fan_in)).astype(np.float32)
        )
        state[f"{name}.bias"] = torch.from_numpy((rng.standard_normal(fan_out) * 0.1).astype(np.float32))
    state["layers.7.bias"] = torch.tensor([4.5], dtype=torch.float32)
    return state


def make_keras_nsfw(seed: int = 1, prefix: str = "") -> dict[str, np.ndarray]:
    """Random Keras-named variables of the NSFW detector (AutoKeras-style names)."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {
        f"{prefix}normalization/mean:0": (rng.standard_normal((1, EMBED_DIM)) * 0.02).astype(np.float32),
        f"{prefix}normalization/variance:0": rng.uniform(0.0005, 0.002, (1, EMBED_DIM)).astype(np.float32),
        f"{prefix}normalization/count:0": np.array(1000, dtype=np.int64),
    }
    for layer, (fan_in, fan_out) in KERAS_DENSE.items():
        arrays[f"{prefix}{layer}/kernel:0"] = (
            rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        ).astype(np.float32)
        arrays[f"{prefix}{layer}/bias:0"] = (rng.standard_normal(fan_out) * 0.1).astype(np.float32)
    arrays[f"{prefix}dense_3/bias:0"] = np.array([-2.0], dtype=np.float32)
    # Keras does not promise an order; make sure the converter does not rely on one.
    keys = list(arrays)
    rng.shuffle(keys)
    return {key: arrays[key] for key in keys}


def numpy_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def numpy_aesthetic(state: dict[str, torch.Tensor], x: np.ndarray) -> np.ndarray:
    """Reference forward: chain of affine maps, no activations (dropout is off)."""
    h = numpy_normalize(x)
    for name in AESTHETIC_SHAPES:
        w = state[f"{name}.weight"].double().numpy()
        b = state[f"{name}.bias"].double().numpy()
        h = h @ w.T + b
    return h[:, 0]


def numpy_nsfw(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Reference forward in Keras conventions: normalize, (x @ kernel + bias), ReLU, sigmoid."""
    get = {k.rsplit("/", 2)[-2] + "/" + k.rsplit("/", 1)[-1].split(":")[0]: v for k, v in arrays.items()}
    h = numpy_normalize(x)
    h = (h - get["normalization/mean"].reshape(-1)) / np.sqrt(get["normalization/variance"].reshape(-1))
    for i, layer in enumerate(KERAS_DENSE):
        h = h @ get[f"{layer}/kernel"].astype(np.float64) + get[f"{layer}/bias"]
        if i < len(KERAS_DENSE) - 1:
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-h[:, 0]))


def image_features(image: Image.Image) -> np.ndarray:
    """768 numbers from the pixels (16 x 16 x 3), centred so directions differ per image."""
    pixels = np.asarray(image.convert("RGB").resize((16, 16), Image.NEAREST), dtype=np.float64)
    return pixels.reshape(-1) / 255.0 - 0.5


def fake_embed(images: list[Image.Image]) -> torch.Tensor:
    """Deterministic stand-in for CLIP: unnormalised, scaled so normalisation matters."""
    return torch.from_numpy(np.stack([image_features(im) * 7.0 for im in images])).float()


