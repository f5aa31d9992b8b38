"""Every PIL mode becomes 8-bit RGB / L with its true range (issue: 16-bit PNGs were binarised).

Each case writes a real file in its format, reads it through the dataset reader
(``PreparedDataset.load_image``) and the model transform, and compares pixel values
worked out by hand.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from diffusion_classifier.data.images import BACKGROUND, SUPPORTED_MODES, convert_image, normalize, opened
from diffusion_classifier.data.errors import DatasetError
from diffusion_classifier.data.manifest import load_dataset, write_dataset
from diffusion_classifier.data.transforms import ImageTransform


def _composite(c: int, a: int) -> int:
    return (c * a + BACKGROUND * (255 - a) + 127) // 255


def _sixteen() -> tuple[Image.Image, list[int]]:
    values = np.array([[0, 257, 1000, 32768, 65535, 12850]], dtype=np.uint16)
    return Image.fromarray(values), [0, 1, 4, 128, 255, 50]


def _int32() -> tuple[Image.Image, list[int]]:
    return Image.fromarray(np.array([[0, 514, 65535, 30000]], dtype=np.int32)), [0, 2, 255, 117]


def _float() -> tuple[Image.Image, list[int]]:
    return Image.fromarray(np.array([[0.0, 0.5, 1.0, 0.25]], dtype=np.float32)), [0, 128, 255, 64]


def _bilevel() -> tuple[Image.Image, list[int]]:
    image = Image.new("1", (3, 1))
    image.putpixel((1, 0), 1)
    return image, [0, 255, 0]


def _grey_alpha() -> tuple[Image.Image, list[int]]:
    pixels = np.array([[[10, 255], [10, 0], [200, 128]]], dtype=np.uint8)
    return Image.fromarray(pixels, "LA"), [10, 255, _composite(200, 128)]


def _grey_trns() -> tuple[Image.Image, list[int]]:
    image = Image.fromarray(np.array([[7, 8, 7]], dtype=np.uint8), "L")
    image.info["transparency"] = 7
    return image, [255, 8, 255]


# mode -> (image, expected grey levels of its one row); greyscale sources become L.
GREY_CASES = {"I;16": _sixteen, "I": _int32, "F": _float, "1": _bilevel, "LA": _grey_alpha, "L+tRNS": _grey_trns}


def _rgba() -> tuple[Image.Image, list[tuple[int, int, int]]]:
    pixels = np.array([[[255, 0, 0, 255], [0, 0, 0, 0], [0, 100, 200, 64]]], dtype=np.uint8)
    return Image.fromarray(pixels, "RGBA"), [(255, 0, 0), (255, 255, 255),
                                              (_composite(0, 64), _composite(100, 64), _composite(200, 64))]


def _palette_transparent() -> tuple[Image.Image, list[tuple[int, int, int]]]:
    image = Image.fromarray(np.array([[0, 1, 2]], dtype=np.uint8), "P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (253 * 3))
    image.info["transparency"] = 0  # palette entry 0 is see-through
    return image, [(255, 255, 255), (255, 0, 0), (0, 0, 255)]


def _palette() -> tuple[Image.Image, list[tuple[int, int, int]]]:
    image = Image.fromarray(np.array([[0, 1]], dtype=np.uint8), "P")
    image.putpalette([10, 20, 30, 40, 50, 60] + [0] * (254 * 3))
    return image, [(10, 20, 30), (40, 50, 60)]


def _cmyk() -> tuple[Image.Image, list[tuple[int, int, int]]]:
    pixels = np.array([[[255, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 255]]], dtype=np.uint8)
    return Image.fromarray(pixels, "CMYK"), [(0, 255, 255), (255, 255, 255), (0, 0, 0)]


COLOUR_CASES = {"RGBA": _rgba, "P+transparency": _palette_transparent, "P": _palette, "CMYK": _cmyk}

# How each case is stored on disk: the format that keeps its mode.
SUFFIX = {"I;16": ".png", "I": ".tiff", "F": ".tiff", "1": ".png", "LA": ".png", "L+tRNS": ".png",
          "RGBA": ".png", "P+transparency": ".png", "P": ".png", "CMYK": ".tiff"}


def _through_the_reader(tmp_path, image: Image.Image, suffix: str) -> Image.Image:
    """Save in a real format, write a one-image dataset, read the image back."""
    (tmp_path / "images").mkdir()
    image.save(tmp_path / "images" / f"x{suffix}", **({"transparency": image.info["transparency"]}
                                                     if "transparency" in image.info else {}))
    sha256 = hashlib.sha256((tmp_path / "images" / f"x{suffix}").read_bytes()).hexdigest()
    manifest = pd.DataFrame([{"image_id": "x", "path": f"images/x{suffix}", "label": 0, "split": "test",
                              "orig_width": image.width, "orig_height": image.height, "sha256": sha256}])
    write_dataset(tmp_path, manifest, ["a"], {"name": "modes"})
    dataset = load_dataset(tmp_path)
    return dataset.load_image(dataset.manifest.iloc[0])


@pytest.mark.parametrize("case", sorted(GREY_CASES))
def test_greyscale_modes_keep_their_true_range(tmp_path, case):
    image, expected = GREY_CASES[case]()
    loaded = _through_the_reader(tmp_path, image, SUFFIX[case])
    assert loaded.mode == "L"
    assert np.asarray(loaded)[0].tolist() == expected
    assert np.asarray(convert_image(image, "L"))[0].tolist() == expected
    assert np.asarray(convert_image(image, "RGB"))[0, :, 0].tolist() == expected


@pytest.mark.parametrize("case", sorted(COLOUR_CASES))
def test_colour_modes_keep_their_colours(tmp_path, case):
    image, expected = COLOUR_CASES[case]()
    loaded = _through_the_reader(tmp_path, image, SUFFIX[case])
    assert loaded.mode == "RGB"
    assert [tuple(p) for p in np.asarray(loaded)[0].tolist()] == expected
    assert [tuple(p) for p in np.asarray(convert_image(image, "RGB"))[0].tolist()] == expected


def test_a_sixteen_bit_png_is_scaled_not_binarised():
    """The probe's case: PIL's own convert clips 16-bit levels to 0/255."""
    image, expected = _sixteen()
    assert np.asarray(image.convert("L"))[0].tolist() != expected  # what a plain convert gives
    # The model transform sees level 128 of 255 (scaled to [-1, 1]), not 255.
    x = ImageTransform(size=1, channels=1, resample="nearest")(image.crop((3, 0, 4, 1)))
    assert x.item() == pytest.approx(128 / 127.5 - 1.0, abs=1e-6)


@pytest.mark.parametrize("mode", ["LA", "La", "RGBa", "PA", "I;16B", "I;16L", "YCbCr", "LAB", "HSV", "RGBX"])
def test_every_supported_mode_converts(mode):
    assert mode in SUPPORTED_MODES
    out = normalize(Image.new(mode, (2, 2)))
    assert out.mode in ("L", "RGB") and out.size == (2, 2)


@pytest.mark.parametrize("values, dtype, mode", [([[-5, 10]], np.int32, "I"), ([[70000, 1]], np.int32, "I"),
                                                 ([[0.5, 2.0]], np.float32, "F"), ([[np.nan, 0.1]], np.float32, "F")])
def test_values_outside_a_modes_range_are_an_error_naming_the_image(values, dtype, mode):
    image = Image.fromarray(np.array(values, dtype=dtype))
    assert image.mode == mode
    with pytest.raises(DatasetError, match="image cat.tiff: .* save it as an 8- or 16-bit PNG"):
        convert_image(image, "RGB", name="cat.tiff")


def test_a_decompression_bomb_is_an_error_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4,096 pixels > 2 x 1,000: PIL refuses
    with pytest.raises(DatasetError, match=f"image {path} is too large to decode safely.*downscaled copy"):
        with opened(path):
            pass


def test_a_decompression_bomb_in_a_download_is_one_command_line_error(tmp_path, monkeypatch, capsys):
    """The probe's case: PIL's DecompressionBombError reached the user as a traceback."""
    from helpers.native_formats import build_imagenet_val_tree, build_synset_mapping

    from diffusion_classifier.cli import DEBUG_ENV, main

    monkeypatch.delenv(DEBUG_ENV, raising=False)
    tree = build_imagenet_val_tree(tmp_path / "raw", per_class=1)
    mapping = build_synset_mapping(tmp_path / "raw" / "LOC_synset_mapping.txt")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 24 x 18 images now exceed twice the limit
    options = {"image_folder": str(tree), "class_index": str(mapping)}
    assert main(["download-dataset", "--source", "imagenet_val", "--options", json.dumps(options),
                 "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]  # after the progress bar
    assert "ILSVRC2012_val_" in line and "too large to decode safely" in line
    assert not (tmp_path / "out").exists()
