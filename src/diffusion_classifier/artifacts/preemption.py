"""Preemption: checkpoint and exit when the scheduler says the job is about to die.

Slurm sends SIGTERM (and, with ``--signal=USR1@<seconds>``, SIGUSR1 earlier) before it
preempts or times out a job. Inside :func:`preemptible` either signal interrupts the
image being scored, flushes every finished image to the shard's checkpoint, and exits
with ``128 + signal`` so that the scheduler (``--requeue``) or Snakemake (``--retries``)
runs the job again; the rerun resumes from the checkpoint and loses only the
interrupted image. Checkpoint writes themselves are never interrupted
(:func:`signals_deferred`): a signal that arrives during one takes effect after it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Iterator, Protocol

__all__ = ["PREEMPTION_SIGNALS", "Preempted", "preemptible", "signals_deferred"]

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


@contextlib.contextmanager
def preemptible(writer: _Checkpointing) -> Iterator[None]:
    """Run the block so that SIGTERM / SIGUSR1 checkpoint ``writer`` and exit non-zero.

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
        log.warning("preempted by %s: finished images are checkpointed; exiting with %d so the job is rerun",
                    signal.Signals(exc.signum).name, exc.code)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
