"""From a stored image to the tensor a model takes.

Models declare what they need (size, channels, resampling); images are converted
here, once, so the scoring loop never resizes or re-decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Callable, Literal

import numpy as np
from PIL import Image

from .._registry import Registry
from ..config import Positive, one_of, unfilled
from .images import convert_image

if TYPE_CHECKING:
    import torch

__all__ = ["ImageTransform", "register_crop", "list_crops"]

_RESAMPLING = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
               "lanczos": Image.LANCZOS}

# How an image becomes a size x size square: fn(image, size, resample) -> image.
CROPS: Registry[Callable[[Image.Image, int, int], Image.Image]] = Registry("image crop")
register_crop = CROPS.register


def list_crops() -> list[str]:
    return CROPS.names()


@register_crop("center")
def center_crop(image: Image.Image, size: int, resample: int) -> Image.Image:
    """Resize the short side to ``size`` in one step, then crop the center square."""
    w, h = image.size
    if (w, h) == (size, size):
        return image
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), resample)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


@register_crop("adm")
def adm_center_crop(image: Image.Image, size: int, resample: int) -> Image.Image:
    """ADM's ``center_crop_arr``, the preprocessing of DiT and of the authors' DiT evaluation.

    While the short side is at least ``2 * size`` the image is halved with a box
    filter (floor of each side); then the short side is resized to ``size`` with
    ``resample`` (bicubic in DiT) and the center square is cropped.
    """
    while min(image.size) >= 2 * size:
        image = image.resize(tuple(x // 2 for x in image.size), Image.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(x * scale) for x in image.size), resample)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


@dataclass(frozen=True)
class ImageTransform:
    """Resize the short side, center-crop, convert the mode, scale to [-1, 1].

    This is the Stable Diffusion evaluation preprocessing (Resize(512, bicubic) ->
    CenterCrop(512) -> RGB -> [-1, 1]) when ``size=512, channels=3,
    resample='bicubic'``; the embedded digits use ``size=16, channels=1``.

    Attributes:
        size: Square input size in pixels.
        channels: 1 for grayscale, 3 for RGB.
        resample: Resize filter.
        crop: How the square is made (:data:`CROPS`): ``center`` (one resize, center crop)
            or ``adm`` (DiT's own: box-halving first, see :func:`adm_center_crop`).
    """

    size: Positive
    channels: Literal[1, 3] = unfilled(default=3)
    resample: Annotated[str, one_of(_RESAMPLING)] = unfilled(default="bicubic")
    crop: Annotated[str, one_of(CROPS.names)] = unfilled(default="center")

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.resample not in _RESAMPLING:
            raise ValueError(f"unknown resampling {self.resample!r}; choose one of {sorted(_RESAMPLING)}")
        CROPS.get(self.crop)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        # torch is imported here, not at module level: the table and fit rules import
        # the data package and should not pay torch's ~1 s import per job.
        import torch

        image = convert_image(image, "L" if self.channels == 1 else "RGB")
        image = CROPS.get(self.crop)(image, self.size, _RESAMPLING[self.resample])
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        if array.ndim == 2:
            array = array[None]
        else:
            array = array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array))

    def to_dict(self) -> dict:
        # ``crop`` only when not the default: provenance of existing runs keeps its hash.
        extra = {} if self.crop == "center" else {"crop": self.crop}
        return {"size": self.size, "channels": self.channels, "resample": self.resample, **extra}
