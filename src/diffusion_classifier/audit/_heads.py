"""Private machinery shared by the filter heads: layout checks and the loaded-head record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

import torch
from torch import nn

from diffusion_classifier.audit.weights import WeightsCheck
from diffusion_classifier.errors import UserError

ModuleT = TypeVar("ModuleT", bound=nn.Module)


class WeightsLayoutError(UserError, ValueError):
    """A weight file does not hold the tensors (names and shapes) its head expects."""


@dataclass(frozen=True)
class LoadedHead(Generic[ModuleT]):
    """A filter head in eval mode together with the checksum record of its weights.

    Attributes:
        model: The head, ready for inference.
        check: Which file it was loaded from and whether its sha256 was verified.
    """

    model: ModuleT
    check: WeightsCheck


def check_state_layout(
    state: Mapping[str, torch.Tensor],
    layout: Mapping[str, tuple[int, ...]],
    path: str | Path,
    fix: str,
) -> None:
    """Compare tensor names and shapes with the expected layout before loading.

    ``load_state_dict`` would also fail on a mismatch, but its message names neither the
    file nor what to do; this one names both, and lists every offending key at once.

    Args:
        state: Tensors read from the file.
        layout: Expected name -> shape.
        path: The file, for the message.
        fix: What the user should do, appended to the message.

    Raises:
        WeightsLayoutError: On any missing key, unexpected key or shape mismatch.
    """
    missing = sorted(set(layout) - set(state))
    unexpected = sorted(set(state) - set(layout))
    wrong = [
        f"{key}: file {tuple(state[key].shape)} != expected {layout[key]}"
        for key in sorted(set(layout) & set(state))
        if tuple(state[key].shape) != tuple(layout[key])
    ]
    if not (missing or unexpected or wrong):
        return
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if wrong:
        problems.append("shape mismatches [" + "; ".join(wrong) + "]")
    raise WeightsLayoutError(
        f"weight file {path} does not match the expected layout: "
        + ", ".join(problems)
        + f". Fix: {fix}"
    )


def read_state(path: str | Path, reader: Callable[[str], object], fix: str) -> Mapping[str, torch.Tensor]:
    """``reader(path)``, a head's state dict; a file it cannot read (truncated, not a weights
    file, pickled objects) or that holds no state dict is a :class:`WeightsLayoutError` naming it."""
    try:
        state = reader(str(path))
    except Exception as exc:  # noqa: BLE001 - torch.load / safetensors raise many types for a damaged file
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise WeightsLayoutError(f"weights file {path} cannot be read ({type(exc).__name__}: {first}). "
                                 f"Fix: {fix}") from None
    if not isinstance(state, Mapping):
        raise WeightsLayoutError(f"weights file {path} holds a {type(state).__name__}, not a state dict. Fix: {fix}")
    return state


def loaded_head(
    head: ModuleT,
    state: Mapping[str, torch.Tensor],
    layout: Mapping[str, tuple[int, ...]],
    path: str | Path,
    fix: str,
    check: WeightsCheck,
    device: str | torch.device,
) -> LoadedHead[ModuleT]:
    """``head`` with ``state`` loaded (after :func:`check_state_layout`), frozen, in eval mode on ``device``."""
    check_state_layout(state, layout, path, fix=fix)
    head.load_state_dict(state, strict=True)
    head.requires_grad_(False)  # a fixed filter: inference only
    return LoadedHead(head.to(device).eval(), check)
