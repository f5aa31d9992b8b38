"""Generic config helpers: low level (no torch at import), one error type for a bad section."""

import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

from diffusion_classifier.config import ConfigError, from_dict, resolve_device, resolve_dtype
from diffusion_classifier.errors import UserError


@dataclass(frozen=True)
class _Section:
    steps: int
    device: str = "auto"


def test_from_dict_names_the_section_and_the_known_keys():
    assert from_dict(_Section, {"steps": 3}, "x") == _Section(3)
    with pytest.raises(ConfigError, match=r"models.m.train: unknown key\(s\) \['step'\]; known keys: \['device', 'steps'\]"):
        from_dict(_Section, {"step": 3}, "models.m.train")
    with pytest.raises(UserError, match="models.m.train: .*steps"):
        from_dict(_Section, {}, "models.m.train")


def test_device_and_dtype_by_name():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_dtype("float16", torch.device("cpu")) == torch.float32  # half precision is for accelerators
    assert resolve_dtype("bfloat16", torch.device("cuda")) == torch.bfloat16
    with pytest.raises(ConfigError, match="unknown dtype 'fp16'"):
        resolve_dtype("fp16", torch.device("cpu"))


def test_the_helpers_import_nothing_heavy():
    code = "import sys, diffusion_classifier.config, diffusion_classifier.workflow_config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
