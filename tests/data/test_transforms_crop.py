"""DiT's own preprocessing (ADM's center_crop_arr) as the ``adm`` crop of ImageTransform."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from diffusion_classifier.data.transforms import ImageTransform, list_crops
from diffusion_classifier.specs import ModelSpec

ROOT = Path(__file__).resolve().parents[2]


def _to_pixels(tensor) -> np.ndarray:
    return (tensor.numpy()[0] + 1.0) * 127.5


def test_adm_halves_with_a_box_filter_before_the_final_resize():
    # 64 x 48 at size 12: the short side is >= 24 twice -> two 2x2 box halvings (16 x 12), no resize left,
    # then the center 12 columns: each output pixel is the mean of a 4 x 4 block of the input.
    # Multiples of 16 keep every intermediate mean an integer, so the expectation is exact.
    values = (16 * np.random.default_rng(0).integers(0, 16, size=(48, 64))).astype(np.uint8)
    out = _to_pixels(ImageTransform(12, channels=1, resample="bicubic", crop="adm")(Image.fromarray(values)))
    blocks = values.reshape(12, 4, 16, 4).mean(axis=(1, 3))[:, 2:14]
    assert out.shape == (12, 12)
    np.testing.assert_allclose(out, blocks, atol=1e-3)
    # the one-step bicubic resize of the default crop is a different image
    center = _to_pixels(ImageTransform(12, channels=1, resample="bicubic")(Image.fromarray(values)))
    assert np.abs(center - blocks).max() > 5


def test_adm_without_halving_is_the_plain_resize_and_crop():
    # short side 15 < 2 * 12: no halving, bicubic to 16 x 12, center crop -> identical to the default
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(15, 20, 3)).astype(np.uint8))
    adm = ImageTransform(12, resample="bicubic", crop="adm")(image)
    center = ImageTransform(12, resample="bicubic")(image)
    assert adm.shape == (3, 12, 12) and (adm == center).all()


def test_adm_odd_sizes_round_like_dit():
    # 1000 x 750 at 256: halve once (500 x 375), bicubic to (341, 256), crop columns 42..297
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, size=(750, 1000, 3)).astype(np.uint8))
    half = image.resize((500, 375), Image.BOX).resize((341, 256), Image.BICUBIC)
    expected = np.asarray(half, dtype=np.float32)[:, 42:298].transpose(2, 0, 1)
    out = ImageTransform(256, resample="bicubic", crop="adm")(image).numpy()
    np.testing.assert_allclose((out + 1.0) * 127.5, expected, atol=1e-3)


def test_crop_is_registered_validated_and_kept_out_of_default_provenance():
    assert {"center", "adm"} <= set(list_crops())
    with pytest.raises(ValueError, match="unknown image crop 'dit'"):
        ImageTransform(16, crop="dit")
    assert ImageTransform(16, channels=1, resample="bilinear").to_dict() == {"size": 16, "channels": 1,
                                                                            "resample": "bilinear"}
    assert ImageTransform(256, crop="adm").to_dict()["crop"] == "adm"


def test_paper_dit_models_use_dits_own_crop():
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    dits = {name: spec for name, spec in paper["models"].items() if "DiT" in str(spec.get("checkpoint"))}
    assert sorted(dits) == ["dit_xl2_256", "dit_xl2_512"]
    for spec in dits.values():
        assert ModelSpec(**spec).transform.crop == "adm"
    assert ModelSpec(**paper["models"]["sd2_base"]).transform.crop == "center"
