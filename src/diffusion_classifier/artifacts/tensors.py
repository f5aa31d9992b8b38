"""Safetensors files that are byte-identical across runs of the same code and inputs.

``safetensors`` serialises its header (``__metadata__`` and the tensor entries) from a
Rust hash map whose order is seeded per process, so two identical runs write different
bytes and DVC sees a change. :func:`save_tensors` rewrites the header with sorted keys:
same length (the same JSON, reordered), same tensor bytes, readable by any loader.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Mapping

import torch

__all__ = ["save_tensors", "canonical_safetensors"]


def canonical_safetensors(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its JSON header's keys in sorted order."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    if isinstance(header.get("__metadata__"), dict):
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if len(text) > length:  # never: the same keys and values, only reordered
        raise ValueError(f"canonical safetensors header is {len(text)} bytes, more than the original {length}")
    # The format allows trailing spaces in the header; keep its length (and alignment).
    return data[:8] + text.ljust(length, b" ") + data[8 + length :]


def save_tensors(tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """``safetensors.torch.save_file`` with a deterministic header."""
    from safetensors.torch import save

    data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                metadata=dict(metadata) if metadata else None)
    path = Path(path)
    path.write_bytes(canonical_safetensors(data))
    return path
