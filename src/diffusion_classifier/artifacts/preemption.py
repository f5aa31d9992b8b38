"""Preemption: checkpoint and exit when the scheduler says the job is about to die.

Slurm sends SIGTERM (and, with ``--signal=USR1@<seconds>``, SIGUSR1 earlier) before it
preempts or times out a job. Inside :func:`preemptible` either signal interrupts the
image being scored, flushes every finished image to the shard's checkpoint together
with the pairs of the image in flight (:class:`InFlight`), and exits with ``128 + signal``
so that the scheduler (``--requeue``) or Snakemake (``--retries``) runs the job again;
the rerun resumes from the checkpoint, continues the interrupted image where it
stopped, and redoes at most the one batch of passes that the signal cut short. The
same save runs every ``checkpoint_seconds`` (checked after each batch), so even a
SIGKILL loses at most the work since then. Checkpoint writes themselves are never
interrupted (:func:`signals_deferred`): a signal that arrives during one takes effect
after it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from .io import atomic_path

__all__ = ["PREEMPTION_SIGNALS", "InFlight", "Preempted", "preemptible", "signals_deferred"]

log = logging.getLogger(__name__)

PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(SystemExit):
    """Raised by a preemption signal; exits the process with ``128 + signal``."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class _Checkpointing(Protocol):
    def checkpoint(self) -> None: ...


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back the preemption signals for the block (a checkpoint write)."""
    if not _main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, PREEMPTION_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _raise_preempted(signum, frame) -> None:
    raise Preempted(signum)


class _ShardCheckpoint(Protocol):
    partial: Path

    def checkpoint(self) -> None: ...

    def partial_file(self, name: str) -> Path: ...


class InFlight:
    """The image being scored, saved beside the shard's checkpoint chunks.

    The engine records an image's pairs batch by batch
    (:class:`~diffusion_classifier.engine.progress.PairLog`); this object saves that
    record, with the image's id, as ``in-flight.npz`` in the shard's partial directory,
    on a preemption signal and every ``checkpoint_seconds`` (checked after each batch;
    each save also flushes the writer's finished images). A rerun of the same run (the
    writer has checked its run key) gets the record back from :meth:`resume` when it
    reaches that image. The file is overwritten by the next image's first save and goes
    with the partial directory when the shard is finished.

    Args:
        writer: The shard's writer (a :class:`~diffusion_classifier.artifacts.ShardWriter`).
        checkpoint_seconds: Seconds between saves while an image is being scored.
    """

    FILE = "in-flight.npz"

    def __init__(self, writer: _ShardCheckpoint, checkpoint_seconds: float) -> None:
        self.writer = writer
        self.checkpoint_seconds = checkpoint_seconds
        self._last = time.monotonic()
        self._image: str | None = None
        self._state: Callable[[], dict[str, np.ndarray]] | None = None

    def resume(self, image_id: str) -> dict[str, np.ndarray] | None:
        """The saved pairs of ``image_id`` if the in-flight file holds that image, else ``None``."""
        path = self.writer.partial / self.FILE
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                state = {key: saved[key] for key in saved.files}
        except Exception as exc:  # noqa: BLE001 - a damaged file is dropped, never trusted
            log.warning("dropping damaged in-flight checkpoint %s (%s); that image starts afresh", path, exc)
            path.unlink(missing_ok=True)
            return None
        if str(state.pop("image_id")) != image_id:
            return None
        log.info("continuing image %s from its %d checkpointed pairs", image_id, len(state.get("condition", ())))
        return state

    def track(self, image_id: str, state: Callable[[], dict[str, np.ndarray]]) -> None:
        """Make ``state()`` (the pairs evaluated so far) what the next save writes for ``image_id``."""
        self._image, self._state = image_id, state

    def tick(self, *_) -> None:
        """After each batch: save if ``checkpoint_seconds`` have passed since the last save."""
        if time.monotonic() - self._last >= self.checkpoint_seconds:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Flush the writer's finished images, then save the image in flight."""
        with signals_deferred():
            self._last = time.monotonic()
            self.writer.checkpoint()
            state = self._state() if self._state is not None else {}
            if not state:
                return
            with atomic_path(self.writer.partial_file(self.FILE)) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, image_id=np.array(self._image), **state)


@contextlib.contextmanager
def preemptible(writer: _Checkpointing) -> Iterator[None]:
    """Run the block so that SIGTERM / SIGUSR1 checkpoint ``writer`` and exit non-zero.

    ``writer`` is a shard's writer, or an :class:`InFlight` (which checkpoints its
    writer and the image in flight).

    Outside the main thread (where Python cannot install handlers) the block runs
    unprotected and only the periodic checkpoints apply.
    """
    if not _main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_preempted) for signum in PREEMPTION_SIGNALS}
    try:
        yield
    except Preempted as exc:
        # A second signal while flushing must not cut the flush short.
        for signum in PREEMPTION_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        writer.checkpoint()
        log.warning("preempted by %s: work so far is checkpointed; exiting with %d so the job is rerun",
                    signal.Signals(exc.signum).name, exc.code)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
