"""Replaying classification rules on stored per-pair errors, without rescoring.

A one-stage run stores the error of every (class, grid point) pair of every image,
and noise ``j`` belongs to grid point ``j`` (see :mod:`.scoring`). Any evaluation
rule that only looks at pairs of that grid can therefore be computed from the store
exactly as a direct run would compute it:

* Algorithm 2 with any KeepList / TrialList whose grid is the stored grid
  (:func:`replay_schedule`): same running sums in the same order, same stable
  tie-breaking, same kept lists, same pass counts;
* the accuracy of any subset of grid points (a single timestep for Figure 3, a
  timestep strategy for Figure 4: :func:`subset_predictions`);
* another objective stored in the same pass (Table 5);
* the sequential elimination strategy (:func:`replay_sequential`, and
  :func:`cross_fitted_replay` for ``test: conditional``), with the decision code of
  :mod:`.sequential` that the direct run uses too.

Errors are held as a dense cube ``[images, classes, grid points]`` per objective
(:func:`error_cube`); callers go shard by shard to bound memory at paper scale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .results import ReplayResult
from .schedule import Schedule
from .sequential import Calibration, EliminationTest, SequentialConfig, point_blocks

__all__ = ["ErrorCube", "error_cube", "replay_schedule", "replay_scored_run", "replay_sequential",
           "cross_fitted_replay", "cross_fitted_calibrations", "replayed_labels", "subset_predictions"]


@dataclass(frozen=True)
class ErrorCube:
    """Stored errors of one objective as a dense array.

    Attributes:
        image_ids: Image of each row, sorted.
        labels: True class index of each image.
        errors: ``[images, classes, grid points]`` float32 errors.
        timesteps: Timestep of each grid point (noise ``j`` belongs to point ``j``).
        candidate_labels: Dataset label of each candidate (the class axis), when a class
            has several candidates (ObjectNet's classes span several ImageNet ids); None:
            candidate ``k`` is label ``k``.
    """

    image_ids: np.ndarray
    labels: np.ndarray
    errors: np.ndarray
    timesteps: np.ndarray
    candidate_labels: np.ndarray | None = None

    def label_of(self, candidates: np.ndarray) -> np.ndarray:
        """The dataset label of each predicted candidate (compare this, not the candidate, with ``labels``)."""
        return candidates if self.candidate_labels is None else self.candidate_labels[candidates]

    @property
    def num_classes(self) -> int:
        return int(self.errors.shape[1])


def error_cube(errors: pd.DataFrame, images: pd.DataFrame, objective: str, num_classes: int,
               complete: bool = True, candidate_labels: list[int] | None = None) -> ErrorCube:
    """Arrange the stored pairs of a one-stage run into an :class:`ErrorCube`.

    With ``complete=False`` an adaptive run's pairs are arranged too, NaN marking the
    pairs its schedule never evaluated (:func:`replay_schedule` never reads those
    when replaying the run's own schedule, and fails if it must).

    Args:
        errors: The store's per-pair table (``image_id, condition, grid_index,
            timestep, error_<objective>``).
        images: The store's per-image table (``image_id, label``).
        objective: Which error column to use (``l2``, ``vlb``, ...).
        num_classes: Number of candidate classes the run scored.
        candidate_labels: The run's label of each candidate (provenance ``candidate_labels``).

    Raises:
        ValueError: the column is missing, or some (image, class, grid point) pair
            was not evaluated (the run was adaptive, not one-stage).
    """
    column = f"error_{objective}"
    if column not in errors:
        known = sorted(c.removeprefix("error_") for c in errors.columns if c.startswith("error_"))
        raise ValueError(f"the stored run has no {objective!r} errors (it stored {known}); "
                         f"add {objective!r} to the strategy's loss or extra_objectives and rescore")
    ids = np.sort(images["image_id"].astype(str).unique())
    row = pd.Index(ids).get_indexer(errors["image_id"].astype(str))
    grid_index = errors["grid_index"].to_numpy(np.int64)
    size = int(grid_index.max()) + 1 if len(grid_index) else 0
    cube = np.full((len(ids), num_classes, size), np.nan, dtype=np.float32)
    cube[row, errors["condition"].to_numpy(np.int64), grid_index] = errors[column].to_numpy(np.float32)
    if complete and np.isnan(cube).any():
        missing = int(np.isnan(cube).sum())
        raise ValueError(f"{missing} (image, class, grid point) pairs were never evaluated: replay needs "
                         "a one-stage run that scores every class at every grid point")
    timesteps = np.zeros(size, dtype=np.int64)
    timesteps[grid_index] = errors["timestep"].to_numpy(np.int64)
    labels = images.assign(image_id=images["image_id"].astype(str)).drop_duplicates("image_id")
    labels = labels.set_index("image_id")["label"]
    mapping = None if candidate_labels is None else np.asarray(candidate_labels, dtype=np.int64)
    return ErrorCube(ids, labels.loc[ids].to_numpy(np.int64), cube, timesteps, mapping)


def replay_schedule(cube: ErrorCube, schedule: Schedule) -> ReplayResult:
    """Algorithm 2 on stored errors, bit for bit as :class:`.DiffusionClassifier` runs it.

    The running sums accumulate float64 in the engine's order (stage by stage, grid
    points in stage order), the kept classes are a stable sort of the survivors'
    running means (ties to the earlier-ranked class), and passes count every pair a
    surviving class would have been evaluated on.
    """
    grid = np.asarray(schedule.grid)
    if len(grid) != cube.errors.shape[2] or not np.array_equal(grid, cube.timesteps):
        raise ValueError(
            f"schedule {schedule.to_dict()} uses a grid of {len(grid)} points that is not the stored "
            f"grid of {cube.errors.shape[2]} points: only schedules on the stored grid replay exactly"
        )
    n, c = cube.errors.shape[:2]
    sums = np.zeros((n, c), dtype=np.float64)
    counts = np.zeros((n, c), dtype=np.int64)
    alive = np.broadcast_to(np.arange(c), (n, c)).copy()
    passes = np.zeros(n, dtype=np.int64)
    kept: list[np.ndarray] = []
    rows = np.arange(n)[:, None]
    for stage in schedule.stages:
        for g in stage.grid_indices:
            sums[rows, alive] += cube.errors[rows, alive, g].astype(np.float64)
            counts[rows, alive] += 1
        unevaluated = np.isnan(sums[rows, alive])
        if unevaluated.any():
            image = cube.image_ids[np.flatnonzero(unevaluated.any(axis=1))[0]]
            raise ValueError(f"image {image!r}: stage {stage.index} needs pairs that were never evaluated "
                             "(the stored run followed another schedule)")
        passes += alive.shape[1] * len(stage.grid_indices)
        means = sums[rows, alive] / np.maximum(counts[rows, alive], 1)
        order = np.argsort(means, axis=1, kind="stable")[:, : stage.keep]
        alive = np.take_along_axis(alive, order, axis=1)
        kept.append(alive.copy())
    return ReplayResult(alive[:, 0].copy(), kept, passes)


def replay_scored_run(cube: ErrorCube, scoring_config: dict) -> ReplayResult:
    """A run's own decisions replayed on its stored errors (``complete=False`` cube), from the
    scoring config its provenance records: its schedule, or its sequential test on the
    one-stage grid (the cube padded to the whole grid: late points may never have been seen)."""
    schedule = Schedule(**scoring_config["schedule"])
    if "sequential" not in scoring_config:
        return replay_schedule(cube, schedule)
    grid = np.asarray(schedule.grid, dtype=np.int64)
    errors = np.full((*cube.errors.shape[:2], len(grid)), np.nan, dtype=np.float32)
    errors[:, :, :cube.errors.shape[2]] = cube.errors
    return replay_sequential(replace(cube, errors=errors, timesteps=grid),
                             SequentialConfig.from_dict(scoring_config["sequential"]))


def replayed_labels(cube: ErrorCube, schedule: Schedule, stored: pd.DataFrame | None = None) -> np.ndarray:
    """The labels :func:`replay_schedule` predicts; with ``stored``, checked against the run's own.

    Args:
        cube: The stored errors of one shard.
        schedule: The schedule to replay.
        stored: The shard's per-image table (``image_id``, ``prediction``) when ``schedule`` and the
            cube's objective are the ones the run was scored with: the replay must reproduce it.

    Raises:
        ValueError: the replay disagrees with the stored predictions.
    """
    predictions = cube.label_of(replay_schedule(cube, schedule).predictions)
    if stored is not None:
        expected = stored.set_index(stored["image_id"].astype(str))["prediction"].loc[cube.image_ids]
        if not np.array_equal(predictions, expected):
            raise ValueError("replaying the stored errors does not give the stored predictions: the shard's "
                             "errors and images tables disagree; rescore it")
    return predictions


def subset_predictions(cube: ErrorCube, grid_indices: np.ndarray | list[int]) -> np.ndarray:
    """The class with the lowest mean error over a subset of grid points, per image.

    Every class is scored on the same subset (one stage); ties go to the lower index.
    """
    idx = np.asarray(grid_indices, dtype=np.int64)
    if idx.size == 0:
        raise ValueError("a timestep strategy needs at least one grid point")
    means = cube.errors[:, :, idx].astype(np.float64).mean(axis=2)
    return np.argmin(means, axis=1)


def replay_sequential(cube: "ErrorCube", config: SequentialConfig,
                      calibration: Calibration | None = None) -> "ReplayResult":
    """The sequential strategy on stored one-stage errors, exactly as a direct run decides.

    ``kept`` holds, per block, ``[images, classes]`` survivors best first, padded
    with -1 (images stop at different blocks). ``calibration``: ``test: conditional``'s
    (default: the one ``config.calibration`` names).
    """
    n, c, size = cube.errors.shape
    calibration = calibration if calibration is not None else config.load_calibration()
    blocks = point_blocks(cube.timesteps, config, calibration)
    predictions = np.zeros(n, dtype=np.int64)
    passes = np.zeros(n, dtype=np.int64)
    kept = [np.full((n, c), -1, dtype=np.int64) for _ in blocks]
    for i in range(n):
        test = EliminationTest(c, size, config, calibration)
        for b, block in enumerate(blocks):
            alive = test.survivors
            passes[i] += len(alive) * len(block)
            ranked = test.update(cube.errors[i][np.ix_(alive, block)])
            kept[b][i, :len(ranked)] = ranked
            if test.done:
                break
        predictions[i] = ranked[0]
    return ReplayResult(predictions, kept, passes)


def _halves(cube: "ErrorCube") -> list[np.ndarray]:
    """The rows of a cross-fit's two halves: even and odd."""
    n = len(cube.errors)
    if n < 2:
        raise ValueError(f"cross-fitting needs at least 2 images, got {n}")
    return [np.arange(0, n, 2), np.arange(1, n, 2)]


def cross_fitted_calibrations(cube: "ErrorCube", calibration_images: int | None = None) -> list[Calibration]:
    """The :class:`Calibration` of each half of :func:`cross_fitted_replay`: fitted on the first
    ``calibration_images`` images of the other half (``None``: all of them)."""
    halves = _halves(cube)
    return [Calibration.fit(cube.errors[other[:calibration_images]], timesteps=cube.timesteps)
            for other in halves[::-1]]


def cross_fitted_replay(cube: "ErrorCube", config: SequentialConfig, calibration_images: int | None = None,
                        calibrations: list[Calibration] | None = None) -> "ReplayResult":
    """``test: conditional`` replayed on a stored one-stage run that comes without a calibration:
    its images are split into two halves (even and odd rows), and each half is replayed with
    a :class:`Calibration` fitted on the other half (its first ``calibration_images``
    images; ``None``: all of them). No image calibrates its own test, and no label is read.

    ``calibrations``: :func:`cross_fitted_calibrations` of the same cube and ``calibration_images``,
    when several configs are replayed (a calibration's visiting order and predictors are
    computed once, and at 1,000 grid points they cost more than the replay).
    """
    n = len(cube.errors)
    halves = _halves(cube)
    calibrations = calibrations or cross_fitted_calibrations(cube, calibration_images)
    predictions, passes = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    kept: list[np.ndarray] = []
    for rows, calibration in zip(halves, calibrations):
        part = replay_sequential(replace(cube, image_ids=cube.image_ids[rows], labels=cube.labels[rows],
                                         errors=cube.errors[rows]), config, calibration)
        predictions[rows], passes[rows] = part.predictions, part.passes
        kept = kept or [np.full((n, cube.num_classes), -1, dtype=np.int64) for _ in part.kept]
        for whole, block in zip(kept, part.kept):
            whole[rows] = block
    return ReplayResult(predictions, kept, passes)
