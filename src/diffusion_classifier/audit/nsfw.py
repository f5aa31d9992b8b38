"""The LAION CLIP-based NSFW detector for ViT-L/14, ported from Keras to torch.

LAION published the detector (``clip_autokeras_binary_nsfw``) as an AutoKeras/Keras
model: a per-feature Normalization layer with learned mean and variance, then
Dense 64 -> ReLU -> Dense 512 -> ReLU -> Dense 256 -> ReLU -> Dense 1 -> sigmoid, giving
``punsafe``. SD 2.0 kept images with punsafe < 0.1.

TensorFlow must never be a run-time dependency, so the Keras weights are converted once
(:func:`convert_keras_nsfw`) to a safetensors file with the layout
:data:`NSFW_STATE_LAYOUT`; at run time only that file is read (:func:`load_nsfw_head`).

Unverified: that the detector expects an L2-normalised embedding (community ports and
LAION's clip-retrieval normalise CLIP embeddings before it, but the published model does
not say). The audit feeds it the same normalised embedding as the aesthetic head.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from diffusion_classifier.artifacts.provenance import file_sha256
from diffusion_classifier.artifacts.tensors import save_tensors
from diffusion_classifier.audit._heads import (
    LoadedHead,
    WeightsLayoutError,
    check_state_layout,
    loaded_head,
    read_state,
)
from diffusion_classifier.audit.weights import (
    NSFW_L14,
    WeightsSpec,
    get_weights_spec,
    verify_weights_file,
)

logger = logging.getLogger(__name__)

EMBED_DIM = 768
PUNSAFE_THRESHOLD = 0.1
#: Public URL of the Keras original (a zip), kept once in the weights registry.
NSFW_KERAS_URL = get_weights_spec(NSFW_L14).url
#: Output widths of the four Dense layers, in order.
DENSE_WIDTHS: tuple[int, ...] = (64, 512, 256, 1)
#: Keras' backend epsilon, the floor Normalization puts under sqrt(variance).
KERAS_EPSILON = 1e-7


def _build_layout() -> dict[str, tuple[int, ...]]:
    layout: dict[str, tuple[int, ...]] = {"mean": (EMBED_DIM,), "variance": (EMBED_DIM,)}
    fan_in = EMBED_DIM
    for index, width in enumerate(DENSE_WIDTHS):
        layout[f"layers.{2 * index}.weight"] = (width, fan_in)
        layout[f"layers.{2 * index}.bias"] = (width,)
        fan_in = width
    return layout


#: Safetensors layout of the converted file (torch Linear weights are (out, in)).
NSFW_STATE_LAYOUT: dict[str, tuple[int, ...]] = _build_layout()

_CONVERSION_FIX = (
    "rerun the one-time conversion convert_keras_nsfw() on the Keras weights of "
    f"clip_autokeras_binary_nsfw ({NSFW_KERAS_URL})"
)


class NSFWHead(nn.Module):
    """Normalization -> 3 x (Dense + ReLU) -> Dense 1 -> sigmoid, as in the Keras model.

    Input: L2-normalised CLIP ViT-L/14 image embeddings, shape [N, 768].
    Output: punsafe in [0, 1], shape [N].
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(EMBED_DIM))
        self.register_buffer("variance", torch.ones(EMBED_DIM))
        modules: list[nn.Module] = []
        fan_in = EMBED_DIM
        for width in DENSE_WIDTHS:
            modules += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        self.layers = nn.Sequential(*modules[:-1])  # no ReLU after the last Dense

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Compute punsafe for a batch of normalised embeddings.

        Args:
            embeddings: Tensor [N, 768], already L2-normalised.

        Returns:
            Tensor [N] of probabilities that the image is unsafe.
        """
        scale = torch.sqrt(self.variance).clamp_min(KERAS_EPSILON)
        return torch.sigmoid(self.layers((embeddings - self.mean) / scale)).squeeze(-1)


def _leaf(name: str) -> str:
    """Last path component of a Keras variable name without the ``:0`` suffix."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _sibling(name: str, leaf: str) -> str:
    """Name of the variable ``leaf`` in the same layer as ``name`` (keeps any ``:0``)."""
    head, sep, tail = name.rpartition("/")
    return f"{head}{sep}{leaf}{tail[len(_leaf(name)):]}"


def _read_h5_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read every dataset of a Keras HDF5 file (model or weights) into numpy."""
    try:
        import h5py  # noqa: PLC0415 - only the one-time conversion needs it
    except ImportError as exc:
        raise ImportError(
            f"reading Keras weights from {path} needs h5py, used only for this one-time "
            "conversion: `pip install h5py`. Alternatively pass a dict of numpy arrays, "
            "e.g. {v.name: v.numpy() for v in keras_model.weights}."
        ) from exc
    arrays: dict[str, np.ndarray] = {}

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer_weights"):
            arrays[name] = np.asarray(obj[()])

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    return arrays


def keras_nsfw_to_state(arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map Keras variables to the torch layout, transposing Dense kernels.

    Variables are recognised by their leaf name (``mean``, ``variance``, ``count``,
    ``kernel``, ``bias``), not by layer names, because AutoKeras numbers its layers
    (``dense``, ``dense_1``, ...) differently between versions. Dense layers are put in
    order by chaining kernel shapes from 768 inputs (768 -> 64 -> 512 -> 256 -> 1); each
    bias is the one sharing its kernel's layer prefix. Keras kernels are (in, out), torch
    weights (out, in). Normalization's ``count`` is dropped; anything else unrecognised
    is an error, so that a different model is never converted silently.

    Args:
        arrays: Keras variable name -> array, e.g. ``{v.name: v.numpy() for v in
            model.weights}`` or the datasets of an HDF5 file.

    Returns:
        Tensors named as in :data:`NSFW_STATE_LAYOUT`.

    Raises:
        WeightsLayoutError: If variables are missing, ambiguous, unexpected or misshapen.
    """
    by_leaf: dict[str, list[str]] = {}
    for name in arrays:
        by_leaf.setdefault(_leaf(name), []).append(name)
    unexpected = sorted(
        name
        for leaf, names in by_leaf.items()
        if leaf not in {"mean", "variance", "count", "kernel", "bias"}
        for name in names
    )
    problems: list[str] = []
    if unexpected:
        problems.append(f"unexpected variables {unexpected}")
    for leaf in ("mean", "variance"):
        if len(by_leaf.get(leaf, [])) != 1:
            problems.append(f"expected one Normalization {leaf!r}, found {by_leaf.get(leaf, [])}")
    kernels = {name: np.asarray(arrays[name]) for name in by_leaf.get("kernel", [])}
    biases = set(by_leaf.get("bias", []))
    if problems:
        raise WeightsLayoutError("cannot convert Keras NSFW weights: " + "; ".join(problems))

    state: dict[str, torch.Tensor] = {}
    for leaf in ("mean", "variance"):
        value = np.asarray(arrays[by_leaf[leaf][0]], dtype=np.float32)
        state[leaf] = torch.from_numpy(value.reshape(-1) if value.size == EMBED_DIM else value)

    fan_in, used = EMBED_DIM, []
    for index, width in enumerate(DENSE_WIDTHS):
        matches = [name for name, k in kernels.items() if k.ndim == 2 and k.shape[0] == fan_in]
        shapes = {name: tuple(k.shape) for name, k in kernels.items()}
        if len(matches) != 1 or kernels[matches[0]].shape != (fan_in, width):
            raise WeightsLayoutError(
                f"cannot convert Keras NSFW weights: Dense layer {index} should have one "
                f"kernel of shape ({fan_in}, {width}); kernels found: {shapes}"
            )
        kernel_name = matches[0]
        bias_name = _sibling(kernel_name, "bias")
        if bias_name not in biases:
            raise WeightsLayoutError(
                f"cannot convert Keras NSFW weights: no bias {bias_name!r} for {kernel_name!r}"
            )
        kernel = kernels[kernel_name].astype(np.float32)
        state[f"layers.{2 * index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.T))
        state[f"layers.{2 * index}.bias"] = torch.from_numpy(
            np.asarray(arrays[bias_name], dtype=np.float32).reshape(-1)
        )
        used += [kernel_name, bias_name]
        fan_in = width
    leftover = sorted((set(kernels) | biases) - set(used))
    if leftover:
        raise WeightsLayoutError(
            f"cannot convert Keras NSFW weights: extra Dense variables {leftover}"
        )
    check_state_layout(state, NSFW_STATE_LAYOUT, "<converted Keras weights>", _CONVERSION_FIX)
    return state


def convert_keras_nsfw(
    keras_weights: Mapping[str, np.ndarray] | str | Path,
    output: str | Path,
) -> Path:
    """One-time conversion of the Keras NSFW detector to a safetensors file.

    The published zip unpacks to a Keras SavedModel directory, whose variables are in
    TensorFlow's own checkpoint format; reading those needs TensorFlow once. Either export
    them to HDF5 with TensorFlow (``model.save_weights("nsfw.h5")``) and pass that path
    (read with h5py), or pass ``{v.name: v.numpy() for v in model.weights}`` directly.

    Args:
        keras_weights: Keras variable name -> array, or the path of a Keras ``.h5`` file.
        output: Where to write the safetensors file.

    Returns:
        The written path. Its sha256 is logged so that it can be recorded in the weights
        registry.

    Raises:
        ImportError: If given a path and h5py is not installed.
        ValueError: If given a directory or zip (a SavedModel) instead of HDF5.
        WeightsLayoutError: If the weights are not the expected architecture.
    """
    if isinstance(keras_weights, (str, Path)):
        source = Path(keras_weights)
        if source.is_dir() or source.suffix == ".zip":
            raise ValueError(
                f"{source} is a Keras SavedModel, which only TensorFlow can read. Load it "
                "once with TensorFlow and pass {v.name: v.numpy() for v in model.weights}, "
                "or export model.save_weights('nsfw.h5') and pass that file."
            )
        arrays = _read_h5_arrays(source)
    else:
        arrays = dict(keras_weights)
    state = keras_nsfw_to_state(arrays)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(state, output, metadata={"source": NSFW_KERAS_URL, "format": "pt"})
    logger.info(
        "wrote %s (sha256 %s); record this digest in the weights registry",
        output,
        file_sha256(output),
    )
    return output


def load_nsfw_head(
    path: str | Path,
    spec: WeightsSpec | None = None,
    device: str | torch.device = "cpu",
) -> LoadedHead[NSFWHead]:
    """Verify and load the converted safetensors file.

    Args:
        path: The safetensors file written by :func:`convert_keras_nsfw`.
        spec: Registry entry giving the expected sha256; defaults to ``laion-nsfw-l14``.
        device: Where the head runs.

    Returns:
        The head in eval mode with its checksum record.

    Raises:
        ChecksumMismatchError: If the file differs from the recorded sha256.
        WeightsLayoutError: If keys or shapes differ from :data:`NSFW_STATE_LAYOUT`.
    """
    spec = spec or get_weights_spec(NSFW_L14)
    check = verify_weights_file(path, spec)
    state = read_state(path, lambda p: load_file(p, device="cpu"), _CONVERSION_FIX)
    return loaded_head(NSFWHead(), state, NSFW_STATE_LAYOUT, path, _CONVERSION_FIX, check, device)
