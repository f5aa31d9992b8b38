"""Opening an image file and bringing any PIL mode to 8-bit ``RGB`` or ``L``: the one place.

Every stage that reads pixels (scoring, the audit, the baselines, the zoo, the shifts)
goes through :func:`convert_image`, so a 16-bit PNG means the same image to all of
them. A plain ``image.convert("RGB")`` is wrong for several modes PIL opens:

* 16-bit greyscale (``I;16``, ``I;16B``, ``I;16L``, ``I;16N``) is *clipped* to 0/255
  by PIL, so a 16-bit photo becomes black and white. Here it is scaled:
  ``round(v * 255 / 65535)``.
* 32-bit integer ``I`` is read as 16-bit (the range PNG, TIFF and PGM decoders give
  it); a value outside 0..65535 is an error naming the image, not a silent clip.
* 32-bit float ``F`` is read as intensities in [0, 1] (the TIFF convention); a value
  outside, or not finite, is an error naming the image.
* Transparency (``RGBA``, ``LA``, ``PA``, premultiplied ``RGBa``/``La``, and a palette,
  grey or RGB image with a ``transparency`` entry) is composited on a white background
  (:data:`BACKGROUND`): ``round((c * a + 255 * (255 - a)) / 255)``. PIL would drop the
  alpha and keep whatever colour lies under transparent pixels (often black).
* ``1`` becomes 0/255, ``P`` its palette colours, ``CMYK``/``YCbCr``/``LAB``/``HSV``/
  ``RGBX`` PIL's colour conversion to RGB.

Greyscale results stay ``L`` and colour results ``RGB`` until the caller asks for
the other (``L`` from ``RGB`` is PIL's ITU-R 601-2 luma, exact on grey pixels).
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from .errors import DatasetError

__all__ = ["BACKGROUND", "convert_image", "normalize", "opened", "SUPPORTED_MODES"]

#: Grey level transparent pixels are composited on (white).
BACKGROUND = 255

_Converter = Callable[[Image.Image, str], Image.Image]
_CONVERTERS: dict[str, _Converter] = {}


def _register(*modes: str) -> Callable[[_Converter], _Converter]:
    def decorator(fn: _Converter) -> _Converter:
        for mode in modes:
            _CONVERTERS[mode] = fn
        return fn

    return decorator


@_register("L", "RGB")
def _as_is(image: Image.Image, name: str) -> Image.Image:
    # A PNG tRNS chunk makes one grey level / colour transparent.
    if "transparency" in image.info:
        return _composite(image.convert("LA" if image.mode == "L" else "RGBA"))
    return image


@_register("1", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "P")
def _pil_conversion(image: Image.Image, name: str) -> Image.Image:
    if image.mode == "P" and "transparency" in image.info:
        return _composite(image.convert("RGBA"))
    return image.convert("L" if image.mode == "1" else "RGB")


@_register("RGBA", "RGBa", "PA")
def _colour_with_alpha(image: Image.Image, name: str) -> Image.Image:
    return _composite(image.convert("RGBA"))


@_register("LA", "La")
def _grey_with_alpha(image: Image.Image, name: str) -> Image.Image:
    return _composite(image.convert("LA"))


@_register("I;16", "I;16L", "I;16B", "I;16N")
def _sixteen_bit(image: Image.Image, name: str) -> Image.Image:
    return _scaled(np.asarray(image).astype(np.float64), 65535.0)


@_register("I")
def _thirty_two_bit(image: Image.Image, name: str) -> Image.Image:
    values = np.asarray(image).astype(np.float64)
    _require_range(values, 0.0, 65535.0, name, "32-bit integer ('I')", "16-bit range 0..65535")
    return _scaled(values, 65535.0)


@_register("F")
def _float(image: Image.Image, name: str) -> Image.Image:
    values = np.asarray(image).astype(np.float64)
    _require_range(values, 0.0, 1.0, name, "floating-point ('F')", "range [0, 1]")
    return _scaled(values, 1.0)


#: Every PIL mode :func:`convert_image` reads.
SUPPORTED_MODES = tuple(sorted(_CONVERTERS))


def _composite(rgba_or_la: Image.Image) -> Image.Image:
    """Alpha-composite on :data:`BACKGROUND`, rounding to the nearest level."""
    pixels = np.asarray(rgba_or_la).astype(np.int64)
    colour, alpha = pixels[..., :-1], pixels[..., -1:]
    out = (colour * alpha + BACKGROUND * (255 - alpha) + 127) // 255
    mode = "L" if rgba_or_la.mode == "LA" else "RGB"
    return Image.fromarray(out.astype(np.uint8).squeeze(-1) if mode == "L" else out.astype(np.uint8), mode)


def _scaled(values: np.ndarray, top: float) -> Image.Image:
    return Image.fromarray(np.rint(values * (255.0 / top)).astype(np.uint8), "L")


def _require_range(values: np.ndarray, lo: float, hi: float, name: str, kind: str, expected: str) -> None:
    if values.size and not (np.isfinite(values).all() and values.min() >= lo and values.max() <= hi):
        raise DatasetError(
            f"image {name}: its {kind} pixels span {np.nanmin(values):g}..{np.nanmax(values):g}, outside the "
            f"{expected} this pipeline reads that mode in; save it as an 8- or 16-bit PNG"
        )


def normalize(image: Image.Image, *, name: str = "<in memory>") -> Image.Image:
    """``image`` as 8-bit ``L`` (greyscale sources) or ``RGB`` (colour), keeping its true range.

    Args:
        image: A PIL image of any mode in :data:`SUPPORTED_MODES`.
        name: The image's file or id, for errors.
    """
    image.load()  # decode now: the caller may close the file next
    try:
        converter = _CONVERTERS[image.mode]
    except KeyError:
        raise DatasetError(f"image {name} has PIL mode {image.mode!r}, which this pipeline cannot read "
                           f"(readable: {', '.join(SUPPORTED_MODES)}); save it as an 8-bit RGB PNG") from None
    return converter(image, name)


def convert_image(image: Image.Image, mode: str = "RGB", *, name: str = "<in memory>") -> Image.Image:
    """``image`` as 8-bit ``mode`` (``'RGB'`` or ``'L'``): :func:`normalize`, then PIL's conversion."""
    if mode not in ("RGB", "L"):
        raise ValueError(f"convert_image makes 'RGB' or 'L' images, not {mode!r}")
    out = normalize(image, name=name)
    return out if out.mode == mode else out.convert(mode)


@contextmanager
def opened(source: str | Path | bytes, name: str | None = None) -> Iterator[Image.Image]:
    """``Image.open`` with Pillow's decompression-bomb refusal as a :class:`DatasetError`.

    Args:
        source: A file path, or the encoded bytes of an image.
        name: What to call the image in errors (the path by default).
    """
    name = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            yield image
    except Image.DecompressionBombError as exc:
        raise DatasetError(
            f"image {name} is too large to decode safely ({exc}); replace it with a downscaled copy "
            "or remove it"
        ) from None
