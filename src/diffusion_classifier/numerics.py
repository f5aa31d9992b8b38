"""CPU numerics that give the same bytes on any x86-64 machine with AVX2.

Every CPU library of the stack picks its kernels by instruction set when it loads:
ATen's vectorized kernels, oneDNN's JIT convolutions, MKL's matrix products, numpy's
SIMD loops and OpenBLAS. Kernels of different instruction sets (AVX-512 on one
machine, AVX2 on another) add floats in different orders, the results differ in the
last bits, and training amplifies that into different tables. Two modes:

``portable`` (the default)
    Every library is capped at AVX2, which nearly every x86-64 server and laptop of
    the last decade has, before it loads (:data:`PORTABLE_ENVIRONMENT`); MKL runs its
    conditional-numerical-reproducibility branch for Intel and AMD alike
    (``MKL_CBWR=COMPATIBLE``; its ``AVX2`` branch is honoured on Intel CPUs only);
    torch's deterministic algorithms are on; a job's thread count is fixed (one
    thread unless the job is given ``--threads``). On the CPU, every forward pass of
    the scoring engine has :data:`FORWARD_ROWS` rows (padded), so a pair's error
    does not depend on which pairs share its batch (:func:`forward_rows`).
``native``
    Each library's fastest kernels for this CPU and torch's thread default: faster,
    and the same bytes only on the same kind of machine.

The variables are read when a library loads, so :func:`pin` runs before torch or
numpy is imported: the console script calls it first thing
(:func:`diffusion_classifier.cli.main`); the workflow chooses the mode with the
config key ``numerics`` (``workflow/rules/common.smk`` sets :data:`MODE_ENV`). From
Python, call ``diffusion_classifier.numerics.pin()`` before importing torch.
:func:`state` is what a run records of it (its provenance and run keys).

Measured cost and what "the same bytes" covers: README ("Exact regeneration") and
``benchmarks/README.md``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from .errors import UserError

__all__ = ["FORWARD_ROWS", "MODES", "MODE_ENV", "PORTABLE_ENVIRONMENT", "configure_torch", "forward_rows",
           "mode", "pin", "state"]

log = logging.getLogger(__name__)

MODES = ("portable", "native")
"""The numerics modes, the default first."""
MODE_ENV = "DIFFUSION_CLASSIFIER_NUMERICS"
"""Environment variable holding the mode (the default when unset)."""

PORTABLE_ENVIRONMENT: dict[str, str] = {
    # ATen's own vectorized kernels (reductions, GroupNorm, softmax, SiLU, attention).
    "ATEN_CPU_CAPABILITY": "avx2",
    # oneDNN's JIT kernels (torch's CPU convolutions); DNNL_ is its older name.
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    # MKL (torch's matrix products): the reproducible branch valid on Intel and AMD CPUs.
    "MKL_CBWR": "COMPATIBLE",
    # numpy's and scipy's OpenBLAS: Haswell's (AVX2) kernels, one thread.
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1",
    # numpy's own SIMD loops (exp, log, sums): nothing above x86-64-v3 (AVX2, FMA).
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    # One thread unless a job asks for more (``--threads``): sums split by thread count.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    # cuBLAS's deterministic workspace (only read on a GPU, where deterministic algorithms need it).
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
}

FORWARD_ROWS = 32
"""Rows of every CPU forward pass of the scoring engine in ``portable`` mode.

A kernel's order of summation depends on the batch's shape but not on a row's place
in it (measured on the tiny UNet, DiT and text UNet: any row at any of 16 places of a
16-row batch gives the same bytes; batches of 1, 3, 7 or 50 rows give other bytes
than 16, 32 or 64). 32 rows cost the tiny models 0.91 ms a row against 0.80 ms in
batches of 250 on one core (``benchmarks/README.md``); a smaller shape wastes less on
padding the small batches of adaptive and sequential runs but runs each row slower.
"""

#: Libraries that read the pins when they load: pinned after them, a pin is late.
_READERS = ("torch", "numpy")


def mode() -> str:
    """The numerics mode in force: :data:`MODE_ENV`, ``portable`` when unset."""
    value = os.environ.get(MODE_ENV) or MODES[0]
    if value not in MODES:
        raise UserError(f"{MODE_ENV}={value!r} is not a numerics mode: use one of {', '.join(MODES)}")
    return value


def pin(numerics: str | None = None) -> None:
    """Set the environment of ``numerics`` (default: :func:`mode`) for this process and its children.

    In ``portable`` mode every variable of :data:`PORTABLE_ENVIRONMENT` is set,
    overriding the caller's (the point is that two machines' environments do not
    matter). Called after torch or numpy has loaded, the pins still reach the
    processes this one starts, but not the libraries already loaded: a warning says
    so, and :func:`state` records it.
    """
    numerics = numerics or mode()
    if numerics not in MODES:
        raise UserError(f"numerics {numerics!r} is not a numerics mode: use one of {', '.join(MODES)}")
    os.environ[MODE_ENV] = numerics
    if numerics != "portable":
        return
    late = [name for name in _READERS if name in sys.modules]
    if late and any(os.environ.get(k) != v for k, v in PORTABLE_ENVIRONMENT.items()):
        log.warning("portable numerics pinned after %s loaded: its kernels stay as loaded (call "
                    "diffusion_classifier.numerics.pin() before importing them)", " and ".join(late))
    os.environ.update(PORTABLE_ENVIRONMENT)


def configure_torch(threads: int = 0) -> None:
    """After torch is imported: its thread count and, in ``portable`` mode, deterministic algorithms.

    Args:
        threads: torch's intra-op threads (a rule's ``{threads}``); 0 keeps the
            process's count (one thread in ``portable`` mode, from ``OMP_NUM_THREADS``).
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    if mode() == "portable":
        # warn_only: on a GPU an op without a deterministic kernel warns instead of failing a paid job.
        torch.use_deterministic_algorithms(True, warn_only=True)


def forward_rows(device: Any) -> int | None:
    """Rows of every forward pass on ``device``: :data:`FORWARD_ROWS` on the CPU in ``portable`` mode, else ``None``.

    ``None`` lets batches run at whatever size they come (a GPU's numbers are not
    portable across GPU models anyway, and fixed rows would only waste its time).
    """
    import torch

    return FORWARD_ROWS if mode() == "portable" and torch.device(device).type == "cpu" else None


def state() -> dict[str, Any]:
    """What a run records of its numerics: the mode, the pins in force and what torch reports.

    The same on any machine that runs the same mode with the same thread count, so it
    can sit in a versioned artifact and in a run key; the machine itself is recorded
    apart (:func:`diffusion_classifier.artifacts.machine`).
    """
    import torch

    current = mode()
    out: dict[str, Any] = {
        "mode": current,
        "cpu_threads": torch.get_num_threads(),
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
    if current == "portable":
        out["pins"] = {key: os.environ.get(key) for key in PORTABLE_ENVIRONMENT}
        out["forward_rows_cpu"] = FORWARD_ROWS
    return out
