"""``batch_size: auto``: the largest batch that fits the device's free memory.

A fixed batch size is either too small for a large GPU (a slow job) or too large for
a small one (an out-of-memory crash on the first image). With ``auto`` the engine
runs one trial batch of a few pairs before the first image's first batch, measures
its peak memory per input, and takes as many inputs as ``headroom`` of the free
memory holds. Devices without a memory probe (the CPU) get a fixed default. Should a
batch still run out of memory (fragmentation, a model whose memory is not linear in
the batch), the engine halves the batch size, logs it, and evaluates the batch again:
the errors of a pair do not depend on the batch it is in, up to the kernels' float
rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

__all__ = ["AUTO", "BATCH_SIZE", "AutoBatch", "MemoryProbe", "CudaMemory", "MEMORY_PROBES", "check_batch_size"]

log = logging.getLogger(__name__)

AUTO = "auto"
#: Noise-predictor inputs per forward pass when a run names none (``scoring.batch_size``,
#: the engine's ScoringConfig, the user API), and ``auto``'s size on a device without a
#: memory probe. Torch-free module: the config specs read it at import.
BATCH_SIZE = 256


def check_batch_size(value) -> None:
    """A batch size is a positive number of inputs or ``auto``."""
    if value == AUTO:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {value!r}")


class MemoryProbe(Protocol):
    """What ``auto`` asks of a device."""

    def free_bytes(self, device: torch.device) -> int:
        """Memory the process can still allocate on ``device``."""

    def peak_bytes(self, device: torch.device, run: Callable[[], object]) -> int:
        """Peak memory ``run()`` allocates on ``device`` above what was allocated before."""


class CudaMemory:
    """Free memory from ``torch.cuda.mem_get_info``, the trial's from the allocator's peak statistics."""

    def free_bytes(self, device: torch.device) -> int:
        import torch

        return int(torch.cuda.mem_get_info(device)[0])

    def peak_bytes(self, device: torch.device, run: Callable[[], object]) -> int:
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)


MEMORY_PROBES: dict[str, MemoryProbe] = {"cuda": CudaMemory()}
"""Device type -> memory probe; a device type without one gets :attr:`AutoBatch.fixed`."""


@dataclass(frozen=True)
class AutoBatch:
    """How ``auto`` picks a batch size.

    Attributes:
        fixed: The batch size on a device without a memory probe (the CPU, where a
            larger batch buys little and memory is rarely the limit).
        trial: Inputs in the trial batch.
        headroom: Fraction of the free memory the batch may use.
        maximum: Never more inputs than this per batch (returns diminish long before).
    """

    fixed: int = BATCH_SIZE
    trial: int = 8
    headroom: float = 0.8
    maximum: int = 2048

    def choose(self, device: torch.device, trial: Callable[[int], object], pairs: int) -> int:
        """The batch size for ``device``; ``trial(n)`` evaluates the first ``n`` pairs once.

        ``pairs`` (the first stage's pairs) caps the trial's size.
        """
        import torch

        probe = MEMORY_PROBES.get(device.type)
        if probe is None:
            return self.fixed
        rows = max(1, min(self.trial, pairs))
        while True:
            try:
                per_input = max(1, probe.peak_bytes(device, lambda: trial(rows))) / rows
                break
            except torch.OutOfMemoryError:
                if rows == 1:
                    raise
                rows //= 2
        free = probe.free_bytes(device)
        size = int(min(self.maximum, max(1, self.headroom * free // per_input)))
        log.info("batch_size auto: %.1f MiB per input, %.0f MiB free on %s -> %d inputs per batch",
                 per_input / 2**20, free / 2**20, device, size)
        return size

