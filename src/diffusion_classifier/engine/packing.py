"""Batches packed across images: full batches when a stage leaves too few pairs.

The first stage of an image fills batches on its own (every class at several grid
points), but Algorithm 2's last stages (a few survivors at a few new points) and the
sequential strategy's late blocks (one or two survivors at one point) ask for far fewer
pairs than a GPU batch holds, so a one-image loop runs the network mostly empty. Here
several images advance together: each image's decisions are a coroutine
(:meth:`~.scoring.DiffusionClassifier.steps`) that asks for pairs and receives their
errors, and every batch is filled with the pending pairs of the images in order. An
image's decisions see exactly the errors an unpacked run computes (a pair's error
depends on its own input, noise, timestep and class only), so its stored pairs and
prediction are the same; only the batches differ.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from .progress import PairLog

if TYPE_CHECKING:  # pragma: no cover
    from .scoring import DiffusionClassifier, ImageScores, Request, Steps

__all__ = ["classify_packed"]


@dataclass
class _Image:
    """One image in flight: its input, noise, log, decisions, and the request being filled."""

    x0: torch.Tensor
    noise: torch.Tensor
    log: PairLog
    steps: "Steps"
    request: "Request | None"
    offset: int = 0
    filled: list[dict[str, torch.Tensor]] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return len(self.request[0]) - self.offset

    def answer(self) -> "ImageScores | None":
        """Send the filled request's errors to the decisions; the result once they are done."""
        errors = {name: torch.cat([f[name] for f in self.filled]).cpu().numpy() for name in self.filled[0]}
        self.offset, self.filled = 0, []
        try:
            self.request = self.steps.send(errors)
        except StopIteration as done:
            self.request = None
            return done.value
        return None


def classify_packed(classifier: "DiffusionClassifier", inputs: Sequence[tuple[torch.Tensor, torch.Tensor]],
                    logs: Sequence[PairLog] | None = None) -> list["ImageScores"]:
    """Classify ``inputs`` (``(x0, noise)`` each), batches packed across them.

    Args:
        classifier: The classifier (its batch size, ``auto`` included, applies per batch).
        inputs: One ``(x0, noise)`` per image, as :meth:`~.scoring.DiffusionClassifier.classify` takes.
        logs: One :class:`PairLog` per image (mid-image checkpoints and resumes), or ``None``.

    Returns:
        One :class:`ImageScores` per input, in order; ``seconds`` is the time from the
        start of the call to the image's last decision.
    """
    from .scoring import NonFiniteErrorsError

    start = time.perf_counter()
    if logs is not None and len(logs) != len(inputs):
        raise ValueError(f"got {len(logs)} logs for {len(inputs)} inputs")
    images = []
    for i, (x0, noise) in enumerate(inputs):
        x0, noise = classifier._prepare(x0, noise)
        steps = classifier.steps(start)
        images.append(_Image(x0, noise, logs[i] if logs is not None else PairLog(), steps, next(steps)))
    results: list[ImageScores | None] = [None] * len(images)
    while True:
        pending = [i for i, image in enumerate(images) if image.request is not None]
        if not pending:
            return results
        first = images[pending[0]]
        classifier._choose_batch_size(first.x0, first.noise, *first.request)
        parts, room = [], classifier.batch_size
        for i in pending:
            take = min(room, images[i].remaining)
            parts.append((i, images[i].offset, images[i].offset + take))
            room -= take
            if not room:
                break
        try:
            errors = _evaluate_parts(classifier, images, parts)
        except torch.OutOfMemoryError as exc:
            classifier._halve_batch_size(exc)
            continue
        for (i, _, hi), part_errors in zip(parts, errors):
            image = images[i]
            image.filled.append(part_errors)
            image.offset = hi
            if image.remaining == 0:
                try:
                    results[i] = image.answer()
                except NonFiniteErrorsError as exc:
                    exc.input = i  # which input: the caller names the image
                    raise


def _evaluate_parts(classifier: "DiffusionClassifier", images: list[_Image],
                    parts: list[tuple[int, int, int]]) -> list[dict[str, torch.Tensor]]:
    """One network batch for the ``(image, lo, hi)`` slices of the images' requests.

    Pairs an image's log holds from a previous attempt are taken from it, not
    evaluated; each slice is recorded in its image's log.
    """
    device = classifier.predictor.device
    slices, stored, rows = [], [], {"x0": [], "eps": [], "t": [], "cond": []}
    for i, lo, hi in parts:
        image = images[i]
        c, g = image.request[0][lo:hi], image.request[1][lo:hi]
        k, kept = image.log.take(c, g, device)
        slices.append((image, c, g, len(c) - k))
        stored.append(kept)
        if k < len(c):
            rest = g[k:]
            rows["x0"].append(image.x0.expand(len(rest), *image.x0.shape))
            rows["eps"].append(image.noise[rest.to(image.noise.device)])
            rows["t"].append(classifier.grid[rest])
            rows["cond"].append(c[k:])
    computed = None
    if rows["t"]:
        computed = classifier._batch_errors(torch.cat(rows["x0"]), torch.cat(rows["eps"]), torch.cat(rows["t"]),
                                            torch.cat(rows["cond"]))
    out, at = [], 0
    for (image, c, g, n), kept in zip(slices, stored):
        mine = {name: values[at:at + n] for name, values in computed.items()} if n else None
        at += n
        out.append(image.log.record(c, g, kept, mine))
    return out
