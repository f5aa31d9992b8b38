"""Aesthetic head: published layout, strict loading, numerics against numpy, clear errors."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from diffusion_classifier.audit import (
    AESTHETIC_STATE_LAYOUT,
    AestheticHead,
    WeightsLayoutError,
    get_weights_spec,
    l2_normalize,
    load_aesthetic_head,
)
from diffusion_classifier.audit.weights import AESTHETIC_L14

from helpers.audit_helpers import AESTHETIC_SHAPES, make_aesthetic_state, numpy_aesthetic


def test_module_has_exactly_the_published_keys() -> None:
    expected = {}
    for name, shape in AESTHETIC_SHAPES.items():
        expected[f"{name}.weight"], expected[f"{name}.bias"] = shape, shape[:1]
    got = {k: tuple(v.shape) for k, v in AestheticHead().state_dict().items()}
    assert got == expected == AESTHETIC_STATE_LAYOUT
    dropouts = [m.p for m in AestheticHead().layers if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.2, 0.2, 0.1]
    assert not any(isinstance(m, (torch.nn.ReLU, torch.nn.GELU)) for m in AestheticHead().modules())


def test_loads_published_layout_and_matches_numpy(aesthetic_pth) -> None:
    path, state = aesthetic_pth
    spec = dataclasses.replace(
        get_weights_spec(AESTHETIC_L14), sha256=hashlib.sha256(path.read_bytes()).hexdigest()
    )
    loaded = load_aesthetic_head(path, spec=spec)
    assert loaded.check.verified and not loaded.model.training
    x = np.random.default_rng(3).standard_normal((9, 768)) * 5.0
    got = loaded.model(l2_normalize(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(got, numpy_aesthetic(state, x), rtol=1e-4, atol=1e-4)
    # eval mode: dropout is off, so repeated calls agree exactly
    again = loaded.model(l2_normalize(torch.from_numpy(x))).numpy()
    np.testing.assert_array_equal(got, again)


def _save(tmp_path: Path, state: dict) -> Path:
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    return path


def test_wrong_shape_is_named(tmp_path: Path) -> None:
    state = make_aesthetic_state()
    state["layers.2.weight"] = torch.zeros(128, 1000)
    path = _save(tmp_path, state)
    with pytest.raises(WeightsLayoutError) as info:
        load_aesthetic_head(path)
    message = str(info.value)
    for part in (str(path), "layers.2.weight", "(128, 1000)", "(128, 1024)", "Fix", "sac+logos"):
        assert part in message


def test_missing_and_extra_keys_are_named(tmp_path: Path) -> None:
    state = make_aesthetic_state()
    del state["layers.7.bias"]
    state["layers.8.weight"] = torch.zeros(1, 1)
    pattern = r"missing keys \['layers.7.bias'\].*unexpected keys \['layers.8.weight'\]"
    with pytest.raises(WeightsLayoutError, match=pattern):
        load_aesthetic_head(_save(tmp_path, state))


def test_non_state_dict_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(WeightsLayoutError, match="holds a Tensor, not a state dict"):
        load_aesthetic_head(path)


@pytest.mark.parametrize("content", [b"not a pickle", b"PK\x03\x04truncated zip"])
def test_a_damaged_weights_file_is_one_error_naming_it(tmp_path: Path, content: bytes) -> None:
    """Never a bare UnpicklingError / zip error: the file is named, with the fix (issue 22)."""
    path = tmp_path / "damaged.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsLayoutError, match="cannot be read") as info:
        load_aesthetic_head(path)
    assert str(path) in str(info.value) and "Fix:" in str(info.value) and "\n" not in str(info.value)
