"""Generic config helpers: low level (no torch at import), one error type for a bad section."""

import dataclasses
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

from diffusion_classifier.config import ConfigError, Positive, from_dict, resolve_device, resolve_dtype
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


def test_a_device_this_machine_cannot_serve_is_a_config_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ConfigError, match="device 'tpu' is not one of auto, cpu, cuda"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="device 'cuda': this machine has no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=r"device 'cuda:3': this machine has 1 CUDA GPU"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("value, says", [
    ("3", "'3' is not a whole number (write it without quotes)"),
    (True, "True is not a whole number"),
    (0, "0 must be at least 1"),
])
def test_from_dict_refuses_values_of_the_wrong_type_or_out_of_range(value, says):
    @dataclasses.dataclass(frozen=True)
    class Counted:
        steps: Positive = 1
        rate: float = 0.1

    with pytest.raises(ConfigError, match=re.escape(f"train.steps: {says}")):
        from_dict(Counted, {"steps": value}, "train")
    with pytest.raises(ConfigError, match="train.rate: False is not a number"):
        from_dict(Counted, {"rate": False}, "train")
    assert from_dict(Counted, {"steps": 2, "rate": 1}, "train") == Counted(2, 1)  # a whole number is a number


def test_the_helpers_import_nothing_heavy():
    code = "import sys, diffusion_classifier.config, diffusion_classifier.workflow_config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
