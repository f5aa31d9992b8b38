"""From a stored image to the tensor a model takes.

Models declare what they need (size, channels, resampling); images are converted
here, once, so the scoring loop never resizes or re-decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .images import convert_image

if TYPE_CHECKING:
    import torch

__all__ = ["ImageTransform"]

_RESAMPLING = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
               "lanczos": Image.LANCZOS}


@dataclass(frozen=True)
class ImageTransform:
    """Resize the short side, center-crop, convert the mode, scale to [-1, 1].

    This is the Stable Diffusion evaluation preprocessing (Resize(512, bicubic) ->
    CenterCrop(512) -> RGB -> [-1, 1]) when ``size=512, channels=3,
    resample='bicubic'``; the embedded digits use ``size=16, channels=1``.
    """

    size: int
    channels: int = 3
    resample: str = "bicubic"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.resample not in _RESAMPLING:
            raise ValueError(f"unknown resampling {self.resample!r}; choose one of {sorted(_RESAMPLING)}")

    def __call__(self, image: Image.Image) -> torch.Tensor:
        # torch is imported here, not at module level: the table and fit rules import
        # the data package and should not pay torch's ~1 s import per job.
        import torch

        image = convert_image(image, "L" if self.channels == 1 else "RGB")
        w, h = image.size
        if (w, h) != (self.size, self.size):
            scale = self.size / min(w, h)
            image = image.resize((max(self.size, round(w * scale)), max(self.size, round(h * scale))),
                                 _RESAMPLING[self.resample])
            w, h = image.size
            left, top = (w - self.size) // 2, (h - self.size) // 2
            image = image.crop((left, top, left + self.size, top + self.size))
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        if array.ndim == 2:
            array = array[None]
        else:
            array = array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(array))

    def to_dict(self) -> dict:
        return {"size": self.size, "channels": self.channels, "resample": self.resample}
