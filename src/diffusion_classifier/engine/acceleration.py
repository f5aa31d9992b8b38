"""GPU speed options of the scoring engine, each behind a switch whose default changes nothing.

With every option off (the default) the engine runs exactly as before: weights in the
model's dtype, float32 on the CPU, no autocast, TF32 off, no compilation. On a GPU:

* ``autocast``: run the network under ``torch.autocast`` in ``bfloat16`` or
  ``float16`` (the objectives are still computed in float32);
* ``tf32``: allow TF32 tensor-core matmuls and convolutions for float32 weights;
* ``cudnn_benchmark``: let cuDNN pick the fastest convolution for each input shape
  (pays off with ``pad_batches``: one shape per run);
* ``channels_last``: NHWC memory layout for the networks' convolutions;
* ``pad_batches``: pad the last batch of a stage to the full batch size (repeating
  its last pair) so that the network sees one static shape; padded rows are dropped
  before any error is computed, so they never reach the store;
* ``compile``: ``torch.compile`` the predictor's forward (static shapes: it turns on
  ``pad_batches``).

What the paper used, for the record (the authors' release): Stable Diffusion in
float16 weights without autocast, batch 32; DiT in float32 with TF32 left at
PyTorch's default (off for matmuls).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated

from ..config import one_of

if TYPE_CHECKING:
    import torch

__all__ = ["Acceleration", "pad_rows"]

#: ``autocast`` value -> torch dtype name (torch is imported only by the methods that
#: act on a device, so the ``scoring.acceleration`` spec is checked without it).
_AUTOCAST = {"none": None, "bfloat16": "bfloat16", "float16": "float16"}


@dataclass(frozen=True)
class Acceleration:
    """The ``scoring.acceleration`` switches of the engine (all off by default: the CPU unchanged).

    Attributes:
        autocast: Autocast dtype of the network.
        tf32: Allow TF32 matmuls and convolutions.
        cudnn_benchmark: ``torch.backends.cudnn.benchmark``.
        channels_last: NHWC layout for the networks.
        pad_batches: Pad a stage's last batch to the batch size (static shapes; padded rows
            never stored).
        compile: ``torch.compile`` the forward with static shapes (implies ``pad_batches``).
    """

    autocast: Annotated[str, one_of(_AUTOCAST)] = "none"
    tf32: bool = False
    cudnn_benchmark: bool = False
    channels_last: bool = False
    pad_batches: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        if self.autocast not in _AUTOCAST:
            raise ValueError(f"scoring.acceleration.autocast must be one of {sorted(_AUTOCAST)}, "
                             f"got {self.autocast!r}")

    @property
    def is_default(self) -> bool:
        return self == Acceleration()

    @property
    def pads(self) -> bool:
        """Static batch shapes: asked for, or needed by ``compile``."""
        return self.pad_batches or self.compile

    def to_dict(self) -> dict:
        return asdict(self)

    def apply_backends(self) -> None:
        """Set the process-wide backend flags this run asks for (only those switched on)."""
        import torch

        if self.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        if self.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True

    def prepare(self, predictor) -> callable:
        """Lay out the predictor's networks and return the (maybe compiled) predict function."""
        import torch

        if self.channels_last:
            for value in vars(predictor).values():
                if isinstance(value, torch.nn.Module):
                    value.to(memory_format=torch.channels_last)
        return torch.compile(predictor.predict, dynamic=False) if self.compile else predictor.predict

    def autocast_context(self, device: torch.device):
        """The autocast context of a forward pass (a no-op when ``autocast`` is ``none``)."""
        import torch

        dtype = _AUTOCAST[self.autocast]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(device).type, dtype=getattr(torch, dtype))

    def inputs(self, x_t: torch.Tensor) -> torch.Tensor:
        import torch

        return x_t.contiguous(memory_format=torch.channels_last) if self.channels_last and x_t.dim() == 4 else x_t


def pad_rows(tensor: torch.Tensor, size: int) -> torch.Tensor:
    """``tensor`` with its last row repeated up to ``size`` rows."""
    import torch

    missing = size - len(tensor)
    if missing <= 0:
        return tensor
    return torch.cat([tensor, tensor[-1:].expand(missing, *tensor.shape[1:])])

