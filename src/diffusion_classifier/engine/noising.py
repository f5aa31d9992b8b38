"""The forward process: a draw of ``q(x_t | x_0)``, the one place it is written.

``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` (Ho et al., 2020, Eq. 4; paper Sec. 3.1).
Training, the SD-features baseline and the GPU benchmark noise their inputs through
:func:`forward_noise`, so a change of convention (precision, device) has one home.
"""

from __future__ import annotations

import torch

__all__ = ["forward_noise"]


def forward_noise(x0: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor | float) -> torch.Tensor:
    """``sqrt(abar) * x0 + sqrt(1 - abar) * eps``.

    Args:
        x0: Clean inputs ``[B, ...]``.
        eps: Gaussian noise of ``x0``'s shape.
        abar: ``abar_t`` of each row (a tensor broadcastable to ``x0``, e.g. ``[B, 1, 1, 1]``)
            or one value for the whole batch (a float or a 0-dim tensor).

    The square roots are taken in ``abar``'s precision (float64 for a float). A per-row
    ``abar`` is then cast to ``x0``'s dtype and device; one value multiplies as a Python
    scalar, in the arithmetic PyTorch uses for scalars of ``x0``'s dtype.
    """
    if not torch.is_tensor(abar):
        abar = torch.tensor(float(abar), dtype=torch.float64)
    signal, scale = abar.sqrt(), (1 - abar).sqrt()
    if signal.dim():
        signal, scale = signal.to(x0.device, x0.dtype), scale.to(x0.device, x0.dtype)
    else:  # Python scalars: a 0-dim tensor would be rounded to x0's dtype first (fp16, bf16)
        signal, scale = signal.item(), scale.item()
    return signal * x0 + scale * eps
