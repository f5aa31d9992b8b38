"""The discriminative zoo: classifiers whose ID/OOD accuracies define the robustness trend.

A zoo member is configuration, not code (imagenet-testbed style): a weight source
(``timm`` or ``torchvision``), an architecture name, its preprocessing, and either
published weights (paper scale: ``resnet50.tv_in1k`` from timm, ``vit_b_16`` with
``IMAGENET1K_V1`` from torchvision) or a ``train`` section (embedded default: tiny
timm models trained on digits by :mod:`.zoo_training`). Weights load lazily through
the source registry, so listing or validating the zoo needs no download.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import numpy as np
import torch
from PIL import Image

from ..artifacts.io import read_json
from ..data.images import convert_image
from ..errors import UserError
from ..data.transforms import _RESAMPLING
from ..config import NonNegative, Positive, from_dict, one_of, optional_key, section, unfilled

__all__ = [
    "CHECKPOINT_CONFIG",
    "CHECKPOINT_WEIGHTS",
    "ZooError",
    "ZooImage",
    "ZooModelSpec",
    "build_zoo_model",
    "list_sources",
    "load_zoo_model",
    "register_source",
]

CHECKPOINT_WEIGHTS = "model.safetensors"
CHECKPOINT_CONFIG = "config.json"


class ZooError(UserError, ValueError):
    """A zoo model cannot be built or its weights cannot be loaded."""


@dataclass(frozen=True)
class ZooImage:
    """Preprocessing of one zoo model: border crop, resize, center crop, normalize.

    ImageNet models: ``resize=256, size=224`` (bilinear), ImageNet mean/std. The
    embedded digits models: ``size=16``, one channel, mean = std = 0.5 (i.e. [-1, 1],
    the range the diffusion model sees).

    Attributes:
        size: Side of the square center crop fed to the model.
        resize: Short side after resizing (``None``: equal to ``size``).
        channels: 1 (grayscale) or 3 (RGB).
        resample: Resize filter.
        mean: Per-channel mean subtracted after scaling to [0, 1].
        std: Per-channel standard deviation divided by.
        border_crop: Pixels removed from every side before anything else (ObjectNet's
            2-pixel border, following the robustness testbed).
    """

    size: Positive
    resize: Positive | None = None
    channels: Literal[1, 3] = 3
    resample: Annotated[str, one_of(_RESAMPLING)] = "bilinear"
    mean: tuple[float, ...] = unfilled(default=(0.485, 0.456, 0.406))
    std: tuple[float, ...] = unfilled(default=(0.229, 0.224, 0.225))
    border_crop: NonNegative = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.channels not in (1, 3):
            raise ZooError(f"zoo image channels must be 1 or 3, got {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ZooError(f"zoo image mean/std need {self.channels} value(s), got {self.mean} / {self.std}")
        if self.resample not in _RESAMPLING:
            raise ZooError(f"unknown resampling {self.resample!r}; choose one of {sorted(_RESAMPLING)}")

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = convert_image(image, "L" if self.channels == 1 else "RGB")
        if self.border_crop:
            w, h = image.size
            b = self.border_crop
            image = image.crop((b, b, w - b, h - b))
        short = self.resize or self.size
        w, h = image.size
        if min(w, h) != short:
            scale = short / min(w, h)
            image = image.resize((max(short, round(w * scale)), max(short, round(h * scale))),
                                 _RESAMPLING[self.resample])
            w, h = image.size
        if (w, h) != (self.size, self.size):
            left, top = (w - self.size) // 2, (h - self.size) // 2
            image = image.crop((left, top, left + self.size, top + self.size))
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        return torch.from_numpy(np.ascontiguousarray((array - mean) / std))


@dataclass(frozen=True)
class ZooModelSpec:
    """One entry of ``zoo.models``.

    Attributes:
        architecture: Model name in the source (``resnet50.tv_in1k`` for timm,
            ``vit_b_16`` for torchvision, ``digits_cnn`` for the embedded zoo).
        source: Weight source: ``timm`` or ``torchvision``.
        pretrained: timm only: load the published weights of ``architecture``.
        weights: torchvision only: the weights enum member, e.g. ``IMAGENET1K_V1``.
        kwargs: Extra keyword arguments of the constructor (widths, input size).
        num_classes: Output classes of the model (1000 for ImageNet models).
        image: Preprocessing (:class:`ZooImage` fields).
        train_dataset: Dataset the pipeline trains the model on (with ``train``).
        train: Training settings (:class:`~.zoo_training.ZooTrainConfig` fields).
        paper_name: Row name of the model in the paper's Table 4, if it has one.
    """

    architecture: str
    source: Literal["timm", "torchvision"] = "timm"
    pretrained: bool = False
    weights: str | None = None
    kwargs: dict = field(default_factory=dict)
    num_classes: Positive = 1000
    image: Annotated[dict, section(ZooImage)] = unfilled(default_factory=lambda: {"size": 224, "resize": 256})
    train_dataset: str | None = optional_key()
    train: Annotated[dict, section("diffusion_classifier.baselines.zoo_training:ZooTrainConfig")] | None = \
        optional_key()
    paper_name: str | None = None

    def __post_init__(self) -> None:
        # The source names are this module's registry (which imports torch): only the jobs
        # that build or train a zoo model make this spec.
        if self.source not in list_sources():
            raise ZooError(f"unknown zoo source {self.source!r}; known: {list_sources()}")
        if self.train is not None and (self.pretrained or self.weights):
            raise ZooError(f"zoo model {self.architecture!r}: give either published weights "
                           "(pretrained / weights) or a 'train' section, not both")
        if self.train is not None and not self.train_dataset:
            raise ZooError(f"zoo model {self.architecture!r} has a 'train' section but no 'train_dataset'")

    @property
    def transform(self) -> ZooImage:
        return from_dict(ZooImage, self.image, f"zoo model {self.architecture} image")

    @property
    def trained_here(self) -> bool:
        return self.train is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- weight sources ------------------------------------------------------------------
BuildFn = Callable[[ZooModelSpec], torch.nn.Module]
_SOURCES: dict[str, BuildFn] = {}


def register_source(name: str) -> Callable[[BuildFn], BuildFn]:
    """Register ``build(spec) -> nn.Module`` for the weight source ``name``."""

    def decorator(fn: BuildFn) -> BuildFn:
        if name in _SOURCES:
            raise ValueError(f"zoo source {name!r} is registered twice")
        _SOURCES[name] = fn
        return fn

    return decorator


def list_sources() -> list[str]:
    return sorted(_SOURCES)


def _unknown_name(kind: str, name: str, known: list[str]) -> ZooError:
    close = difflib.get_close_matches(name, known, n=8, cutoff=0.5)
    hint = f"close names: {close}" if close else f"{len(known)} names are known; list them with {kind}"
    return ZooError(f"unknown model {name!r} for the zoo; {hint}")


def _offline_error(what: str, exc: Exception) -> ZooError:
    return ZooError(
        f"could not load the published weights of {what} ({type(exc).__name__}: {exc}). They are "
        "downloaded on first use (timm: Hugging Face hub; torchvision: download.pytorch.org) into the "
        "local cache (HF_HOME / TORCH_HOME). On a machine without internet, fetch them once elsewhere "
        "and copy the cache directory, or set HF_HUB_OFFLINE=1 with a filled cache."
    )


@register_source("timm")
def _build_timm(spec: ZooModelSpec) -> torch.nn.Module:
    import timm

    from . import timm_digits  # noqa: F401  (registers the embedded zoo's architectures)
    from . import sd_features  # noqa: F401  (registers the feature-map classifiers of Table 1)

    base = spec.architecture.split(".")[0]
    if not timm.is_model(base):
        raise _unknown_name("timm.list_models()", spec.architecture, timm.list_models())
    if spec.pretrained and "." in spec.architecture and spec.architecture not in timm.list_pretrained(base + ".*"):
        tags = timm.list_pretrained(base + ".*")
        raise _unknown_name(f"timm.list_pretrained('{base}.*')", spec.architecture, tags)
    kwargs = dict(spec.kwargs)
    if spec.trained_here or not spec.pretrained:
        kwargs.setdefault("num_classes", spec.num_classes)
        kwargs.setdefault("in_chans", spec.transform.channels)
    try:
        return timm.create_model(spec.architecture, pretrained=spec.pretrained, **kwargs)
    except (OSError, RuntimeError, ConnectionError) as exc:
        if spec.pretrained:
            raise _offline_error(f"timm model {spec.architecture!r}", exc) from None
        raise


def check_reference_preprocessing(spec: ZooModelSpec, weights) -> None:
    """Refuse published torchvision weights evaluated with another preprocessing than theirs.

    Each weights enum member publishes its evaluation transform (``weights.transforms()``):
    most ImageNet-1k models resize to 256 and crop 224, but e.g. ViT-L/16's
    ``IMAGENET1K_V1`` resizes to 242. Accuracies measured otherwise are not the
    published models' accuracies.
    """
    reference = weights.transforms()
    expected = {"size": int(reference.crop_size[0]), "resize": int(reference.resize_size[0]),
                "resample": reference.interpolation.value,
                "mean": tuple(round(float(v), 6) for v in reference.mean),
                "std": tuple(round(float(v), 6) for v in reference.std)}
    image = spec.transform
    found = {"size": image.size, "resize": image.resize or image.size, "resample": image.resample,
             "mean": tuple(round(v, 6) for v in image.mean), "std": tuple(round(v, 6) for v in image.std)}
    wrong = {k: found[k] for k in expected if found[k] != expected[k]}
    if wrong:
        raise ZooError(
            f"zoo model {spec.architecture!r} ({spec.weights}): image {wrong} differs from the preprocessing "
            f"published with these weights; set its image to {expected}"
        )


@register_source("torchvision")
def _build_torchvision(spec: ZooModelSpec) -> torch.nn.Module:
    from torchvision import models

    known = models.list_models()
    if spec.architecture not in known:
        raise _unknown_name("torchvision.models.list_models()", spec.architecture, known)
    weights = None
    if spec.weights:
        enum = models.get_model_weights(spec.architecture)
        members = [m.name for m in enum]
        if spec.weights not in members:
            raise ZooError(f"torchvision {spec.architecture!r} has no weights {spec.weights!r}; known: {members}")
        weights = enum[spec.weights]
        check_reference_preprocessing(spec, weights)
    kwargs = dict(spec.kwargs)
    if weights is None:
        kwargs.setdefault("num_classes", spec.num_classes)
    try:
        return models.get_model(spec.architecture, weights=weights, **kwargs)
    except (OSError, RuntimeError, ConnectionError) as exc:
        if weights is not None:
            raise _offline_error(f"torchvision {spec.architecture!r} ({spec.weights})", exc) from None
        raise


def build_zoo_model(spec: ZooModelSpec) -> torch.nn.Module:
    """The model of ``spec`` with published or random weights (not yet trained ones)."""
    return _SOURCES[spec.source](spec)


def load_zoo_model(spec: ZooModelSpec, checkpoint: str | Path | None = None) -> torch.nn.Module:
    """The model ready for evaluation: published weights, or a trained checkpoint.

    Args:
        spec: The zoo entry.
        checkpoint: Directory written by :func:`.zoo_training.train_zoo_classifier`;
            required when ``spec.train`` is given.

    Raises:
        ZooError: Unknown names, missing checkpoint, or weights that do not fit.
    """
    if spec.trained_here:
        if checkpoint is None:
            raise ZooError(f"zoo model {spec.architecture!r} is trained by the pipeline: pass its checkpoint "
                           "directory (run rule train_zoo_model)")
        return load_trained(checkpoint)
    return build_zoo_model(spec).eval()


def load_trained(checkpoint: str | Path) -> torch.nn.Module:
    """A model saved by :func:`.zoo_training.train_zoo_classifier` (safetensors + config)."""
    from safetensors.torch import load_file

    root = Path(checkpoint)
    for name in (CHECKPOINT_CONFIG, CHECKPOINT_WEIGHTS):
        if not (root / name).exists():
            raise ZooError(f"{root / name} is missing: {root} is not a trained zoo checkpoint; "
                           "re-run rule train_zoo_model")
    saved = read_json(root / CHECKPOINT_CONFIG, f"delete {root} and train it again", "zoo checkpoint record")
    spec = from_dict(ZooModelSpec, saved["spec"], f"{root / CHECKPOINT_CONFIG} spec")
    model = build_zoo_model(spec)
    try:
        model.load_state_dict(load_file(root / CHECKPOINT_WEIGHTS))
    except RuntimeError as exc:
        raise ZooError(f"{root / CHECKPOINT_WEIGHTS} does not fit {spec.architecture!r}: {exc}") from None
    return model.eval()
