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
    """The images being scored, saved beside the shard's checkpoint chunks.

    The engine records an image's pairs batch by batch
    (:class:`~diffusion_classifier.engine.progress.PairLog`); this object saves those
    records, with the images' ids, as ``in-flight.npz`` in the shard's partial
    directory, on a preemption signal and every ``checkpoint_seconds`` (checked after
    each batch; each save also flushes the writer's finished images). A rerun of the
    same run (the writer has checked its run key) reads the file once, when it starts,
    and gets an image's record back from :meth:`resume` when it reaches that image.
    The file is overwritten by the next save and goes with the partial directory when
    the shard is finished. Several images are in flight when batches are packed
    across images (``scoring.pack_images``).

    Args:
        writer: The shard's writer (a :class:`~diffusion_classifier.artifacts.ShardWriter`).
        checkpoint_seconds: Seconds between saves while images are being scored.
    """

    FILE = "in-flight.npz"

    def __init__(self, writer: _ShardCheckpoint, checkpoint_seconds: float) -> None:
        self.writer = writer
        self.checkpoint_seconds = checkpoint_seconds
        self._last = time.monotonic()
        self._tracked: dict[str, Callable[[], dict[str, np.ndarray]]] = {}
        path = writer.partial / self.FILE
        try:
            self._saved = self.read(path)
        except Exception as exc:  # noqa: BLE001 - a damaged file is dropped, never trusted
            log.warning("dropping damaged in-flight checkpoint %s (%s); its images start afresh", path, exc)
            path.unlink(missing_ok=True)
            self._saved = {}

    @classmethod
    def read(cls, path: Path) -> dict[str, dict[str, np.ndarray]]:
        """Image id -> saved pairs, from an in-flight file (empty if there is none)."""
        if not path.exists():
            return {}
        with np.load(path, allow_pickle=False) as saved:
            ids = [str(i) for i in saved["image_ids"]]
            states: dict[str, dict[str, np.ndarray]] = {i: {} for i in ids}
            for key in saved.files:
                if key != "image_ids":
                    n, name = key.split(".", 1)
                    states[ids[int(n)]][name] = saved[key]
        return states

    def resume(self, image_id: str) -> dict[str, np.ndarray] | None:
        """The saved pairs of ``image_id`` if the rerun started with them, else ``None``."""
        state = self._saved.pop(image_id, None)
        if state is not None:
            log.info("continuing image %s from its %d checkpointed pairs", image_id, len(state.get("condition", ())))
        return state

    def track(self, states: dict[str, Callable[[], dict[str, np.ndarray]]]) -> None:
        """Image id -> ``state()`` (its pairs evaluated so far) of the images now in flight:
        what the next save writes."""
        self._tracked = dict(states)

    def tick(self, *_) -> None:
        """After each batch: save if ``checkpoint_seconds`` have passed since the last save."""
        if time.monotonic() - self._last >= self.checkpoint_seconds:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Flush the writer's finished images, then save the images in flight."""
        with signals_deferred():
            self._last = time.monotonic()
            self.writer.checkpoint()
            states = {image_id: state() for image_id, state in self._tracked.items()}
            states = {image_id: state for image_id, state in states.items() if state}
            if not states:
                return
            arrays = {f"{n}.{name}": values for n, state in enumerate(states.values()) for name, values in state.items()}
            with atomic_path(self.writer.partial_file(self.FILE)) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, image_ids=np.array(list(states)), **arrays)


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
