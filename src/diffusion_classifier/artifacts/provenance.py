"""Provenance: what made an artifact (code version, config hash, weights, timing).

Also the atomic-write helpers every writer in the package uses: an artifact is
either complete or absent, never half-written, so a preempted job can never leave
a file that a later rule would take as finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from ..errors import UserError

__all__ = [
    "ChecksumError",
    "check_sha256",
    "verify_sha256",
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


def _umask() -> int:
    """The process umask: from ``/proc`` on Linux, else by setting and restoring it
    (Python has no getter, and the set-and-restore is not thread-safe)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _honour_umask(path: Path, directory: bool = False) -> None:
    """Give a temporary file (0600) or directory (0700) the mode a plain open/mkdir would."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


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


STALE_UNLOCKABLE_SECONDS = 24 * 3600
"""Where a file system cannot lock a temporary (some NFS mounts refuse a directory's), one
older than this is taken for a dead writer's."""


def _open_for_lock(path: Path) -> int:
    """A descriptor to ``flock`` (writable for a file: NFS's emulated locks need it)."""
    return os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDWR)


@contextlib.contextmanager
def _held(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on a temporary (file or directory) while it is written.

    The kernel drops it when the writer dies (kill -9 included): a temporary nobody holds
    is a dead writer's, which :func:`remove_stale_temporaries` may delete; one still held
    is a live writer's and is left alone. Where the file system cannot lock, the write
    goes on unlocked.
    """
    fd = _open_for_lock(path)
    try:
        with contextlib.suppress(OSError):  # waits only while a cleaner looks at it
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched; one left by
    a killed writer is removed by the next write of ``target``. The finished file gets the
    mode the user's umask gives a new file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        with _held(tmp_path):
            yield tmp_path
            _honour_umask(tmp_path)
            os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; swap it in on success.

    The temporary is ``.<name>.<random>.tmp``: a kill before the swap, or between removing
    an old ``target`` and renaming the new one in, leaves it behind, and the next write of
    ``target`` removes it (:func:`remove_stale_temporaries`), so no hidden copy outlives a
    rerun. The finished directory gets the mode the user's umask gives.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        with _held(tmp):
            yield tmp
            _honour_umask(tmp, directory=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def remove_stale_temporaries(target: str | os.PathLike, target_locked: bool = False) -> list[Path]:
    """Delete the temporaries that killed writers of ``target`` left (:func:`atomic_path`,
    :func:`atomic_directory`); returns them.

    A temporary whose writer is alive holds a ``flock`` and is kept, so this is safe while
    another process writes ``target``; one that cannot be locked at all (a file system
    without locks) is kept unless older than :data:`STALE_UNLOCKABLE_SECONDS`.
    ``target_locked``: the caller holds ``target``'s own lock (no other writer exists),
    so every temporary goes.
    """
    target = Path(target)
    stale = []
    for path in sorted(target.parent.glob(f".{glob.escape(target.name)}.*.tmp")):
        if not target_locked and not path.is_symlink() and not _dead_writers(path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        stale.append(path)
    return stale


def _dead_writers(path: Path) -> bool:
    """Whether the temporary's writer is gone: nobody holds its lock (see :func:`_held`)."""
    try:
        fd = _open_for_lock(path)
    except OSError:
        return False  # gone meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False  # a live writer's
    except OSError:  # no locks here: go by age
        return time.time() - path.stat().st_mtime > STALE_UNLOCKABLE_SECONDS
    finally:
        os.close(fd)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Pretty, key-sorted JSON, written atomically."""
    atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
