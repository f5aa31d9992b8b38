"""Generic helpers for config sections: a frozen dataclass from a section, device and
dtype by name, and the error a bad section raises.

Low level on purpose: no import of the rest of the package and no torch at import
time (torch only inside the device and dtype helpers), so the data, model and
baseline packages, the section specs (:mod:`.specs`) and the torch-free workflow
checks (:mod:`.workflow_config`, imported by the Snakefile) all build their configs
the same way.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UserError

if TYPE_CHECKING:
    import torch

__all__ = ["ConfigError", "DTYPES", "from_dict", "resolve_device", "resolve_dtype"]

T = TypeVar("T")

#: Config name -> torch dtype attribute.
DTYPES = ("float32", "float16", "bfloat16")


class ConfigError(UserError, ValueError):
    """A config section is wrong or the workflow config is inconsistent; the message names the key."""


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys are an error naming ``where``."""
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(known)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The model dtype; half precision falls back to float32 on the CPU."""
    import torch

    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; choose one of {sorted(DTYPES)}")
    return torch.float32 if device.type == "cpu" else getattr(torch, name)
