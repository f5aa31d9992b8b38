"""Provenance: what made an artifact (code version, config hash, environment), and the
sha256 checks every reader of a hashed artifact makes. Atomic writes live in :mod:`.io`,
measured times in :mod:`.timing`."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = [
    "ChecksumError",
    "check_sha256",
    "verify_sha256",
    "canonical_json",
    "code_version",
    "config_hash",
    "engine_code_sha256",
    "environment",
    "file_sha256",
    "lock_state",
    "machine",
    "files_sha256",
    "git_describe",
    "package_files",
    "package_source_sha256",
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


class ChecksumError(UserError, ValueError):
    """A file differs from the sha256 recorded for it when it was written."""


def check_sha256(actual: str, expected: str | None, path: str | os.PathLike, recorded_in: str | os.PathLike,
                 fix: str, error: type[Exception] = ChecksumError) -> None:
    """Refuse a file whose sha256 ``actual`` is not the ``expected`` one ``recorded_in`` holds.

    Every reader of a hashed artifact calls this (through :func:`verify_sha256` or with a
    digest of the bytes it read) before it uses the content. ``fix`` says what to do.

    Raises:
        error: one line naming the file, where its sha256 is recorded, and the fix.
    """
    if not isinstance(expected, str) or not expected:
        raise error(f"{recorded_in} records no sha256 for {path}: it was written by older code or edited; {fix}")
    if actual != expected.lower():
        raise error(f"{path} does not match the sha256 recorded in {recorded_in} when it was written: it was "
                    f"altered or damaged; {fix}")


def verify_sha256(path: str | os.PathLike, expected: str | None, recorded_in: str | os.PathLike, fix: str,
                  error: type[Exception] = ChecksumError) -> None:
    """:func:`check_sha256` of the file at ``path`` (streamed)."""
    actual = file_sha256(path) if isinstance(expected, str) and expected else ""
    check_sha256(actual, expected, path, recorded_in, fix, error)


def files_sha256(paths: list[Path], root: Path | None = None) -> str:
    """One sha256 over several files, their relative names included."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = path.relative_to(root) if root else path.name
        digest.update(str(name).encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


PACKAGE_DATA = ("py.typed", "reporting/*.yaml", "robustness/data/*.csv", "robustness/data/*.md")
"""The package's data files, as ``[tool.setuptools.package-data]`` in pyproject.toml installs them."""


def package_files(root: str | os.PathLike | None = None) -> list[Path]:
    """Every file of the package that a wheel installs: its ``.py`` sources and :data:`PACKAGE_DATA`.

    ``root`` is the package directory (default: the one this module is imported from).
    Bytecode (``__pycache__``) and anything else a run or an install leaves in the
    source tree are not counted.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    found = {path for pattern in ("**/*.py", *PACKAGE_DATA) for path in root.glob(pattern)}
    return sorted(path for path in found if path.is_file() and "__pycache__" not in path.relative_to(root).parts)


def package_source_sha256(root: str | os.PathLike | None = None) -> str:
    """sha256 over :func:`package_files`, with their names relative to the package directory.

    The same in a git checkout, an sdist and a wheel of the same code; it changes with
    any edit to the package (committed or not) and with nothing outside it.
    """
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    return files_sha256(package_files(root), root)


def code_version() -> str:
    """What computed an artifact: ``<package version>+src.<first 12 hex of package_source_sha256()>``.

    A content hash of the package, not the git commit: a commit that does not touch the
    package (a README edit) leaves every versioned artifact byte for byte the same, and an
    uncommitted edit of the package changes it. The commit a run was made from is
    recorded apart, with the measured times (:func:`git_describe`, in every timing file).
    """
    from .. import __version__

    return f"{__version__}+src.{package_source_sha256()[:12]}"


def git_describe() -> str | None:
    """``git describe --always --dirty`` of the checkout the package runs from, or ``None``.

    ``None`` outside a git checkout (an installed wheel) or without git. A ``-dirty``
    suffix says the working tree had uncommitted changes. Not for versioned artifacts
    (it changes with every commit): :mod:`.timing` records it beside measured times.
    """
    here = Path(__file__).resolve().parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here, capture_output=True, text=True, timeout=10,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return None


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


LOCK_FILE = Path(__file__).resolve().parents[3] / "requirements" / "lock.txt"
"""The lock of a source checkout (exact versions and hashes of every installed package)."""

_LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=None)
def lock_state(lock: Path = LOCK_FILE) -> dict[str, Any] | None:
    """The lock's sha256 and the installed distributions whose version is not the locked one.

    ``None`` where the package runs without its checkout's lock (an installed wheel).
    """
    if not lock.is_file():
        return None
    installed = {_canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
                 if d.metadata["Name"]}
    locked = {_canonical(name): version for name, version in _LOCKED.findall(lock.read_text())}
    differs = {name: installed.get(name) for name, version in sorted(locked.items())
               if installed.get(name) != version}
    return {"sha256": file_sha256(lock), "installed_differs": differs}


def environment() -> dict[str, Any]:
    """What besides code, config and data can change a number, and is the same on every
    machine that runs the same install: versions, the numerics in force, the lock.

    Versioned artifacts record this; what differs between machines that compute the
    same bytes (host, CPU model, kernel) goes with the measured times (:func:`machine`).
    """
    import torch

    from .. import numerics

    env: dict[str, Any] = {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "torch": torch.__version__,
        "numerics": numerics.state(),
        "lock": lock_state(),
    }
    with contextlib.suppress(ImportError):
        import diffusers

        env["diffusers"] = diffusers.__version__
    if torch.cuda.is_available():
        env["cuda_device"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
    return env


#: CPU flags that decide which kernels a library may pick (``/proc/cpuinfo``'s names).
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def machine() -> dict[str, Any]:
    """The machine a job ran on: host, OS, Python, CPU model and instruction-set flags, GPU and driver.

    Recorded with the measured times (:mod:`.timing`), not in versioned artifacts: two
    machines that compute the same bytes differ here.
    """
    out: dict[str, Any] = {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        info = Path("/proc/cpuinfo").read_text()
        fields = dict(line.split(":", 1) for line in info.split("\n\n")[0].splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        flags = set(fields.get("flags", "").split())
        out["cpu"] = {"model": fields.get("model name"), "vendor": fields.get("vendor_id"),
                      "isa_flags": [flag for flag in ISA_FLAGS if flag in flags]}
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
            out["cuda"] = torch.version.cuda
            with contextlib.suppress(OSError):
                out["gpu_driver"] = Path("/proc/driver/nvidia/version").read_text().splitlines()[0].strip()
    return out
