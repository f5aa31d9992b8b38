"""Atomic writes: an artifact is complete or absent, never half-written.

Every writer in the package goes through these helpers, so a preempted job can never
leave a file that a later rule would take as finished: the bytes go to a temporary
beside the target, which is renamed onto it only once the write succeeded.
:func:`write_frame` is the one way a table (Parquet or CSV) is written; :func:`read_json` is
the one way a JSON record the package wrote is read back (a damaged one is a one-line
:class:`DamagedFileError` naming the file and the fix, never a bare ``JSONDecodeError``).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DamagedFileError",
    "read_json",
    "FRAME_WRITERS",
    "atomic_directory",
    "atomic_path",
    "atomic_write_text",
    "remove_stale_temporaries",
    "write_frame",
    "write_json",
]


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


class DamagedFileError(UserError, ValueError):
    """A file the pipeline wrote (a provenance record, a summary, a calibration) cannot be read back."""


def read_json(path: str | os.PathLike, fix: str = "delete it and rerun the job that writes it",
              what: str = "file") -> dict:
    """The JSON object in ``path``; a file that is not valid JSON, or holds something other
    than an object, is a :class:`DamagedFileError` naming ``what`` and ``path`` and the ``fix``."""
    try:
        data = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedFileError(f"{what} {path} is damaged (not valid JSON: {exc}): {fix}") from None
    if not isinstance(data, dict):
        raise DamagedFileError(f"{what} {path} is damaged (it holds a {type(data).__name__}, not a JSON "
                               f"object): {fix}")
    return data


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Pretty, key-sorted JSON, written atomically."""
    atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _write_parquet(frame: pd.DataFrame, path: Path, float_format: str | None) -> None:
    frame.to_parquet(path, index=False)


def _write_csv(frame: pd.DataFrame, path: Path, float_format: str | None) -> None:
    frame.to_csv(path, index=False, float_format=float_format)


#: Table file suffix -> writer (``frame, path, float_format``; Parquet keeps full precision).
FRAME_WRITERS: dict[str, Callable[[Any, Path, str | None], None]] = {
    ".parquet": _write_parquet,
    ".csv": _write_csv,
}


def write_frame(frame: pd.DataFrame, target: str | os.PathLike, float_format: str | None = None) -> Path:
    """Write ``frame`` without its index, atomically; the suffix of ``target`` picks the format.

    Args:
        frame: The table.
        target: ``*.parquet`` or ``*.csv`` (:data:`FRAME_WRITERS`).
        float_format: CSV only: ``printf`` format of floats (e.g. ``"%.6g"``).
    """
    target = Path(target)
    try:
        writer = FRAME_WRITERS[target.suffix]
    except KeyError:
        raise ValueError(f"cannot write a table to {target}: known suffixes {sorted(FRAME_WRITERS)}") from None
    with atomic_path(target) as tmp:
        writer(frame, tmp, float_format)
    return target
