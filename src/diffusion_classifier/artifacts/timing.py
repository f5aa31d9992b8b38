"""Measured time, kept apart from the exact artifacts.

A rerun of the same code and config regenerates every artifact byte for byte (DVC
versions them, so a difference is a change), but never the wall-clock time it took.
So no artifact holds a time: each writer records what it measured in a timing file
of its own, under ``<results>/timing/`` at the path of the artifact it measures::

    results/scores/digits/unet/adaptive/shard-000     the shard (versioned)
    results/timing/scores/digits/unet/adaptive/shard-000.timing.json

``dvc.yaml`` does not list ``results/timing`` as an output. Each timing file names its
artifact (``artifact``, relative to the results directory), so it stays auditable, and
the git commit of the code that made it (``git_commit``: ``git describe --always
--dirty``, see :func:`~.provenance.git_describe`; ``null`` outside a git checkout).
The commit lives here and not in the artifact, for the same reason as the time: any
commit, even one that does not touch the code, would change every artifact's bytes.
The artifact records what computed it instead (:func:`~.provenance.code_version`, a
hash of the package's source).

The results directory comes from the environment variable :data:`RESULTS_ENV`, which
the workflow sets (``workflow/rules/common.smk``); without it (a stage called from
Python or by hand) the time is only logged.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from .io import read_json, write_json
from .provenance import git_describe, machine

__all__ = ["RESULTS_ENV", "TIMING_FOLDER", "TimingError", "now", "read_timing", "results_root", "timing_path",
           "write_timing"]

log = logging.getLogger(__name__)

RESULTS_ENV = "DIFFUSION_CLASSIFIER_RESULTS"
"""The results directory whose ``timing/`` tree receives measured times."""
TIMING_FOLDER = "timing"
SUFFIX = ".timing.json"


class TimingError(UserError, FileNotFoundError):
    """An artifact's measured time was not recorded (or not where it should be)."""


def now() -> str:
    """The current local time, ISO 8601 with its UTC offset (for ``started_at`` / ``finished_at``)."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def results_root() -> Path | None:
    """The results directory named by :data:`RESULTS_ENV`, or ``None`` when unset."""
    value = os.environ.get(RESULTS_ENV)
    return Path(value).resolve() if value else None


def _relative(artifact: str | os.PathLike, root: str | os.PathLike | None) -> tuple[Path, Path] | None:
    """(results directory, artifact relative to it), or ``None`` (no root, or outside it)."""
    root = Path(root).resolve() if root is not None else results_root()
    if root is None:
        return None
    try:
        return root, Path(artifact).resolve().relative_to(root)
    except ValueError:
        return None


def timing_path(artifact: str | os.PathLike, root: str | os.PathLike | None = None) -> Path | None:
    """Where the measured time of ``artifact`` lives: ``<root>/timing/<artifact>.timing.json``.

    ``root`` defaults to :func:`results_root`. ``None`` when there is no root or the
    artifact lies outside it (then nothing is written).
    """
    located = _relative(artifact, root)
    if located is None:
        return None
    root, relative = located
    return root / TIMING_FOLDER / relative.parent / (relative.name + SUFFIX)


def write_timing(artifact: str | os.PathLike, measured: dict[str, Any],
                 root: str | os.PathLike | None = None) -> Path | None:
    """Record ``measured`` (seconds, timestamps, ...) for ``artifact``; returns the file or ``None``.

    The record also names the artifact, the git commit the run was made from and the
    machine it ran on (``artifact``, ``git_commit``, ``machine``: host, CPU model and
    instruction-set flags, GPU and driver; :func:`~.provenance.machine`). Write it before the artifact itself appears, so that
    a finished artifact always has its timing (a kill in between leaves only a timing
    file that the rerun rewrites).
    """
    located = _relative(artifact, root)
    if located is None:
        # Debug only: outside a results tree (a user's classify) this is no news, and the
        # record is long (every image's seconds).
        log.debug("measured time of %s not recorded (outside %s): %s", artifact, RESULTS_ENV,
                  json.dumps(measured, default=str)[:500])
        return None
    path = timing_path(artifact, located[0])
    write_json(path, {"artifact": located[1].as_posix(), "git_commit": git_describe(), "machine": machine(),
                      **measured})
    return path


def read_timing(artifact: str | os.PathLike, root: str | os.PathLike | None = None) -> dict:
    """The timing recorded for ``artifact``.

    Raises:
        TimingError: none was recorded (one line naming the file and the fix).
    """
    path = timing_path(artifact, root)
    if path is None or not path.exists():
        where = path if path is not None else f"{artifact} (no {RESULTS_ENV} set)"
        raise TimingError(f"no measured time for {artifact}: {where} is missing; rerun the job that "
                                "makes the artifact (delete it first) to measure it again")
    return read_json(path, "delete it and rerun the job that makes the artifact", "timing record")
