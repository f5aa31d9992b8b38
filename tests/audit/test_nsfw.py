"""NSFW head: Keras -> safetensors conversion, strict run-time loading, numerics vs numpy."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from diffusion_classifier.audit import (
    NSFW_STATE_LAYOUT,
    NSFWHead,
    WeightsLayoutError,
    convert_keras_nsfw,
    l2_normalize,
    load_nsfw_head,
)

from helpers.audit_helpers import make_keras_nsfw, numpy_nsfw


def test_module_layout_is_the_declared_constant() -> None:
    got = {k: tuple(v.shape) for k, v in NSFWHead().state_dict().items()}
    assert got == NSFW_STATE_LAYOUT
    relus = [type(m).__name__ for m in NSFWHead().layers]
    assert relus == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear"]


@pytest.mark.parametrize("prefix", ["", "model_weights/dense_9/"])
def test_convert_then_load_matches_numpy(tmp_path: Path, prefix: str) -> None:
    arrays = make_keras_nsfw(prefix=prefix)
    out = convert_keras_nsfw(arrays, tmp_path / "nsfw.safetensors")
    loaded = load_nsfw_head(out)
    assert not loaded.check.verified and len(loaded.check.sha256) == 64
    x = np.random.default_rng(5).standard_normal((11, 768)) * 3.0
    got = loaded.model(l2_normalize(torch.from_numpy(x))).numpy()
    want = numpy_nsfw(arrays, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert 0.05 < want.mean() < 0.95 and want.std() > 1e-3  # the check is not vacuous


def test_converter_transposes_kernels(tmp_path: Path, keras_nsfw) -> None:
    state = load_file(str(convert_keras_nsfw(keras_nsfw, tmp_path / "n.safetensors")))
    np.testing.assert_array_equal(state["layers.2.weight"].numpy(), keras_nsfw["dense_1/kernel:0"].T)
    np.testing.assert_array_equal(state["mean"].numpy(), keras_nsfw["normalization/mean:0"].reshape(-1))
    assert "count" not in state


def test_converted_file_with_wrong_shape_is_named(tmp_path: Path, keras_nsfw) -> None:
    state = load_file(str(convert_keras_nsfw(keras_nsfw, tmp_path / "n.safetensors")))
    state["layers.4.weight"] = torch.zeros(256, 500)
    del state["variance"]
    path = tmp_path / "broken.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightsLayoutError) as info:
        load_nsfw_head(path)
    message = str(info.value)
    for part in (str(path), "variance", "layers.4.weight", "(256, 500)", "(256, 512)", "convert_keras_nsfw"):
        assert part in message


def test_keras_weights_missing_variance_are_refused(keras_nsfw) -> None:
    del keras_nsfw["normalization/variance:0"]
    with pytest.raises(WeightsLayoutError, match="variance"):
        convert_keras_nsfw(keras_nsfw, "/nonexistent/never-written.safetensors")


def test_keras_kernel_of_wrong_shape_is_refused(tmp_path: Path, keras_nsfw) -> None:
    keras_nsfw["dense_1/kernel:0"] = np.zeros((64, 500), dtype=np.float32)
    with pytest.raises(WeightsLayoutError, match=r"\(64, 512\)"):
        convert_keras_nsfw(keras_nsfw, tmp_path / "n.safetensors")


def test_unexpected_keras_variables_are_refused(tmp_path: Path, keras_nsfw) -> None:
    keras_nsfw["batch_normalization/gamma:0"] = np.ones(64, dtype=np.float32)
    with pytest.raises(WeightsLayoutError, match="gamma"):
        convert_keras_nsfw(keras_nsfw, tmp_path / "n.safetensors")


def test_h5_path_without_h5py_explains_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py -> ImportError
    path = tmp_path / "nsfw.h5"
    path.write_bytes(b"")
    with pytest.raises(ImportError, match="pip install h5py"):
        convert_keras_nsfw(path, tmp_path / "n.safetensors")


def test_savedmodel_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SavedModel"):
        convert_keras_nsfw(tmp_path, tmp_path / "n.safetensors")


def test_a_damaged_converted_file_is_one_error_naming_it(tmp_path: Path, keras_nsfw) -> None:
    """A truncated safetensors file: one line naming it and the fix, not safetensors' own error."""
    whole = convert_keras_nsfw(keras_nsfw, tmp_path / "n.safetensors").read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(WeightsLayoutError, match="cannot be read") as info:
        load_nsfw_head(path)
    assert str(path) in str(info.value) and "convert_keras_nsfw" in str(info.value)
