"""Atomic writes: an artifact is complete or absent, never half-written.

Every writer in the package goes through these helpers, so a preempted job can never
leave a file that a later rule would take as finished: the bytes go to a temporary
beside the target, which is renamed onto it only once the write succeeded.
:func:`write_frame` is the one way a table (Parquet or CSV) is written.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
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


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched. The
    finished file gets the mode the user's umask gives a new file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _honour_umask(tmp_path)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; swap it in on success.

    The temporary is ``.<name>.<random>.tmp``: a kill before the swap leaves one
    behind, which :func:`remove_stale_temporaries` clears once the writer holds the
    target's lock. The finished directory gets the mode the user's umask gives.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _honour_umask(tmp, directory=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Delete the temporaries :func:`atomic_path` / :func:`atomic_directory` left for ``target``.

    Only safe while the caller holds ``target``'s lock (no other writer is mid-write).
    """
    target = Path(target)
    stale = sorted(target.parent.glob(f".{glob.escape(target.name)}.*.tmp"))
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


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
