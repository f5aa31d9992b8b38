"""Provenance: what made an artifact (code version, config hash, weights, timing).

The atomic writers live in :mod:`.io`; they are imported here too because writers
have always found them in this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from .io import atomic_directory, atomic_path, atomic_write_text, remove_stale_temporaries, write_json

__all__ = [
    "atomic_directory",
    "atomic_path",
    "atomic_write_text",
    "canonical_json",
    "code_version",
    "config_hash",
    "engine_code_sha256",
    "environment",
    "remove_stale_temporaries",
    "file_sha256",
    "files_sha256",
    "write_json",
]


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON: equal configs give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any) -> str:
    """First 16 hex digits of the sha256 of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Streaming sha256 of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_sha256(paths: list[Path], root: Path | None = None) -> str:
    """One sha256 over several files, their relative names included."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = path.relative_to(root) if root else path.name
        digest.update(str(name).encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


def code_version() -> str:
    """``git describe`` of the checkout the package runs from, else the package version.

    A ``-dirty`` suffix says the working tree had uncommitted changes.
    """
    from .. import __version__

    here = Path(__file__).resolve().parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here, capture_output=True, text=True, timeout=10,
        )
        if out.returncode == 0 and out.stdout.strip():
            return f"{__version__}+g{out.stdout.strip()}"
    return __version__


ERROR_CODE_PACKAGES = ("engine", "models")
"""Subpackages whose code computes the stored errors (the scoring engine and the model adapters)."""


def engine_code_sha256() -> str:
    """sha256 over the sources of :data:`ERROR_CODE_PACKAGES`, with their relative names.

    The code version that goes into a scoring run's key: unlike ``git describe`` it is
    the same in a git checkout, an sdist and a wheel of the same code, changes with any
    edit to the code that computes errors (committed or not), and with nothing else, so
    a checkpoint written by other engine code is never resumed.
    """
    root = Path(__file__).resolve().parents[1]
    files = [path for package in ERROR_CODE_PACKAGES for path in (root / package).rglob("*.py")]
    return files_sha256(files, root)


def environment() -> dict[str, Any]:
    """Versions and hardware that can change a number."""
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
    }
    with contextlib.suppress(ImportError):
        import diffusers

        env["diffusers"] = diffusers.__version__
    if torch.cuda.is_available():
        env["cuda_device"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
    return env
