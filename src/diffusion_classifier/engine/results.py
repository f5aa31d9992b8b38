"""What the engine's loops return: one home for the result types they share.

:class:`ImageScores` (one image's evaluated pairs and outcome, from a direct run),
:class:`ReplayResult` (a rule replayed on stored errors) and
:class:`NonFiniteErrorsError` are what the direct run (:mod:`.scoring`) and the replay
(:mod:`.replay`) give their callers; the error store writes an :class:`ImageScores` (it
states the fields it reads, :class:`diffusion_classifier.artifacts.store.ScoredImage`).
This module imports nothing of those loops (and no torch), so each of them imports it
without importing the others.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ImageScores", "NonFiniteErrorsError", "ReplayResult"]


class NonFiniteErrorsError(ValueError):
    """A noise prediction gave a NaN or infinite error: the ranking would be meaningless."""


@dataclass
class ImageScores:
    """Every evaluated pair of one image, in evaluation order, and the outcome.

    Attributes:
        condition: Condition (class) index of each evaluated pair.
        grid_index: Grid index of each pair (= its noise index).
        timestep: Timestep of each pair.
        stage: Stage in which each pair was evaluated.
        errors: Objective name -> float32 error of each pair.
        kept: Classes kept after each stage, best first.
        prediction: The predicted condition index.
        passes: Number of noise-predictor inputs evaluated.
        seconds: Wall time spent classifying the image.
    """

    condition: np.ndarray
    grid_index: np.ndarray
    timestep: np.ndarray
    stage: np.ndarray
    errors: dict[str, np.ndarray]
    kept: list[list[int]]
    prediction: int
    passes: int
    seconds: float = field(default=0.0)

    @classmethod
    def collect(cls, pieces: dict[str, list[np.ndarray]], errors: dict[str, list[np.ndarray]],
                grid: Sequence[int], kept: list[list[int]], prediction: int, start: float) -> "ImageScores":
        """Assemble the per-batch ``condition`` / ``grid_index`` / ``stage`` pieces and errors of one image."""
        grid_index = np.concatenate(pieces["grid_index"]).astype(np.int32)
        return cls(
            condition=np.concatenate(pieces["condition"]).astype(np.int32),
            grid_index=grid_index,
            timestep=np.asarray(grid, dtype=np.int32)[grid_index],
            stage=np.concatenate(pieces["stage"]).astype(np.int16),
            errors={name: np.concatenate(v).astype(np.float32) for name, v in errors.items()},
            kept=kept,
            prediction=prediction,
            passes=int(len(grid_index)),
            seconds=time.perf_counter() - start,
        )


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of a replayed schedule for every image of a cube.

    Attributes:
        predictions: Predicted class per image.
        kept: Per stage, ``[images, keep]`` classes kept, best first.
        passes: Noise-predictor passes each image would have cost.
    """

    predictions: np.ndarray
    kept: list[np.ndarray]
    passes: np.ndarray
