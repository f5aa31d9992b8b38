"""Sequential elimination: stop spending passes on a class once the data say it lost.

Beyond the paper. Algorithm 2 prunes classes after fixed stages (KeepList /
TrialList, "not significantly tuned", Sec. 4.2). This strategy instead tests after
every block of grid points:

* The grid is the one-stage grid (``evaluations: [N]``), visited in bit-reversed
  order (:func:`spread_order`), so any prefix covers all noise levels.
* Points come in blocks of ``block`` (a GPU batch stays full: every surviving class
  is evaluated at every point of a block).
* After each block, the leader is the survivor with the lowest mean error. Noise
  ``j`` belongs to grid point ``j`` and is shared by all classes (Sec. 3.3), so the
  per-point differences ``e_c - e_leader`` are paired; a class is dropped once their
  mean exceeds ``k`` standard errors, after at least ``min_points`` points.
* Options (all off by default): ``test: grid`` asks whether the class would still
  lose on the *whole grid's* mean (what Algorithm 1 decides): the unseen points are
  a finite remainder, so the standard error shrinks by ``sqrt(1 - n / N)`` and the
  test is exact once the grid is seen. ``test: conditional`` asks the same question
  with a :class:`Calibration`, the mean and covariance over the grid of a one-stage
  run's paired differences: the unseen points' sum is predicted from the seen ones
  by Gaussian conditioning (its mean and standard deviation), which needs no
  per-image variance estimate, so it may test from the first point; the grid is then
  visited in the calibration's order (:meth:`Calibration.order`: each next point the
  one that most reduces the uncertainty of the grid's sum). ``pool`` shrinks each class's variance
  estimate (few points: a noisy one) towards the survivors' pooled variance with
  that many pseudo-points. ``first: [lo, hi]`` visits the grid points with
  ``lo <= t < hi`` first (where the classes differ most; paper Fig. 3), then the rest.
* Scoring stops when one class is left or the grid is exhausted; then the lowest
  mean wins, as in Algorithm 1.

Both the direct run (:func:`.scoring.sequential_steps`) and the replay on stored one-stage
errors (:func:`.replay.replay_sequential`) feed the same :class:`EliminationTest` with the
same float32 errors in the same order, so a replay reproduces a direct run exactly.
Each block is stored as a "stage" of the error store, and the survivors after each
test (best first) as its ``kept`` list.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from ..config import NonNegative, Positive, one_of, optional_key
from ..errors import UserError

__all__ = ["SequentialConfig", "Calibration", "CalibrationError", "EliminationTest", "ELIMINATION_TESTS", "spread_order", "visit_order",
           "point_blocks", "check_block_count"]

# The error store keeps a pair's stage (here: its block) as int8.
MAX_BLOCKS = 127

ELIMINATION_TESTS = {
    # the mean of the points seen so far: its standard error
    "mean": lambda seen, grid_size: 1.0,
    # the mean over the whole grid: the unseen points are a finite remainder (finite-population correction)
    "grid": lambda seen, grid_size: math.sqrt(max(0.0, 1.0 - seen / grid_size)),
}
"""Test name -> factor on the standard error of the seen points' mean difference."""

CONDITIONAL = "conditional"
"""The test that predicts the unseen points from a :class:`Calibration` (no standard error)."""


@dataclass(frozen=True)
class SequentialConfig:
    """Settings of the sequential elimination test (the ``sequential:`` key of a strategy).

    Attributes:
        block: Grid points evaluated for every surviving class between two tests.
        k: A class is dropped when its mean paired error difference to the leader
            exceeds ``k`` standard errors of that mean.
        min_points: No class is dropped before this many points were evaluated.
        test: What the ``k`` standard errors are of (:data:`ELIMINATION_TESTS`): the
            ``mean`` of the seen points, or the whole ``grid``'s mean; or ``conditional``:
            ``k`` standard deviations of the whole grid's sum as the calibration predicts
            it from the seen points.
        pool: Pseudo-points of the survivors' pooled variance that each class's
            variance estimate is shrunk towards (0: each class's own).
        first: ``[lo, hi]``: visit the grid points with ``lo <= t < hi`` first.
        calibration: A :class:`Calibration` JSON file (``test: conditional`` in a direct
            run; a replay study fits its own from the stored run, see
            :func:`cross_fitted_replay`).
    """

    block: Positive = 5
    k: Annotated[float, Field(gt=0)] = 3.0
    min_points: Positive = 5
    test: Annotated[str, one_of(lambda: [*ELIMINATION_TESTS, CONDITIONAL])] = "mean"
    pool: Annotated[float, Field(ge=0)] = 0
    first: tuple[NonNegative, NonNegative] | None = optional_key()
    calibration: str | None = optional_key()

    def __post_init__(self) -> None:
        if self.block < 1:
            raise ValueError(f"sequential.block must be >= 1 grid point, got {self.block}")
        if not (self.k > 0 and math.isfinite(self.k)):
            raise ValueError(f"sequential.k must be a positive number of standard errors, got {self.k}")
        if self.test not in (*ELIMINATION_TESTS, CONDITIONAL):
            raise ValueError(f"sequential.test must be one of {sorted([*ELIMINATION_TESTS, CONDITIONAL])}, "
                             f"got {self.test!r}")
        conditional = self.test == CONDITIONAL
        if self.min_points < (1 if conditional else 2):
            raise ValueError(f"sequential.min_points must be >= 2 (a standard error needs two points; "
                             f"test: conditional tests from 1), got {self.min_points}")
        if conditional and (self.pool or self.first is not None):
            raise ValueError("sequential.pool and sequential.first belong to the mean and grid tests: test "
                             "conditional takes its variances and its visiting order from the calibration")
        if self.calibration is not None and not conditional:
            raise ValueError(f"sequential.calibration {self.calibration!r} is read by test: conditional only")
        if self.calibration is not None and not isinstance(self.calibration, (str, os.PathLike)):
            raise ValueError(f"sequential.calibration must be a calibration file, got {self.calibration!r} (in the "
                             "workflow an experiment's `calibration: {split, images}` names its calibration set)")
        if not (self.pool >= 0 and math.isfinite(self.pool)):
            raise ValueError(f"sequential.pool must be a number of pseudo-points >= 0, got {self.pool}")
        if self.first is not None:
            first = tuple(self.first)
            if len(first) != 2 or not first[0] < first[1]:
                raise ValueError(f"sequential.first must be [lo, hi] timesteps with lo < hi, got {self.first}")
            object.__setattr__(self, "first", first)

    def to_dict(self) -> dict:
        """The settings; the options left at their defaults are omitted (so older run keys still match)."""
        out = asdict(self)
        for name in _DEFAULTS:
            if out[name] == _DEFAULTS[name]:
                del out[name]
        if self.first is not None:
            out["first"] = list(self.first)
        if self.calibration is not None:  # the run key follows the file's contents, not only its name
            from ..artifacts.provenance import file_sha256

            out["calibration_sha256"] = file_sha256(self.calibration)
        return out

    def label(self) -> str:
        extra = "".join([f", {self.test} test" if self.test != "mean" else "",
                         f", pool {self.pool:g}" if self.pool else "",
                         f", t in [{self.first[0]}, {self.first[1]}) first" if self.first else ""])
        return f"sequential k={self.k:g}, block {self.block}, min {self.min_points}{extra}"

    @classmethod
    def from_dict(cls, data: dict) -> "SequentialConfig":
        """The settings as :meth:`to_dict` recorded them; a calibration file must still hold what it held."""
        data = dict(data)
        recorded = data.pop("calibration_sha256", None)
        config = cls(**data)
        if recorded is not None:
            from ..artifacts.provenance import file_sha256

            if not Path(config.calibration).is_file() or file_sha256(config.calibration) != recorded:
                raise ValueError(f"the calibration file {config.calibration} is missing or has changed since the "
                                 "run was scored (its sha256 is recorded): restore it or rescore the run")
        return config

    def load_calibration(self) -> "Calibration | None":
        """The calibration file's contents (direct runs; read once per process); ``None`` without one."""
        return None if self.calibration is None else _read_calibration(str(self.calibration))


#: The options a run key leaves out at their default (added after the first runs were keyed).
_DEFAULTS = {f.name: f.default for f in fields(SequentialConfig) if f.name in ("test", "pool", "first", "calibration")}


@lru_cache(maxsize=8)
def _read_calibration(path: str) -> "Calibration":
    try:
        return Calibration.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"sequential.calibration: no file {path}; fit one on a one-stage run of other "
                                "images on the same grid: diffusion-classifier fit-calibration --shards ... "
                                f"--loss ... --output {path}") from None


@dataclass(frozen=True)
class Calibration:
    """What ``test: conditional`` knows before it sees an image: the mean and covariance,
    over the grid's points, of a one-stage run's paired error differences.

    A difference is a losing class's error minus the image's one-stage winner's at the
    same grid point (same noise); every losing class of every calibration image is one
    sample. Fitted on errors alone (no labels), from images other than those it is used
    on (a calibration set, or the other half of a stored run: :func:`cross_fitted_replay`).

    Attributes:
        mean: ``[grid points]`` mean difference.
        cov: ``[grid points, grid points]`` covariance, its diagonal raised by ``shrink``
            (a ridge: few calibration images give a noisy, near-singular estimate).
        images: Calibration images it was fitted on.
        timesteps: The grid's timesteps, when known: a run on another grid is refused.
    """

    mean: np.ndarray
    cov: np.ndarray
    images: int
    timesteps: np.ndarray | None = None
    fitted_on: tuple[str, ...] = field(default=(), compare=False)
    """The ids of the images it was fitted on, as its file's provenance records them (not
    written by :meth:`to_dict`: the provenance is)."""
    _prefixes: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def fit(cls, errors: np.ndarray, shrink: float = 0.1, timesteps=None) -> "Calibration":
        """Fit on one-stage errors ``[images, classes, grid points]`` of the calibration images
        (on the grid of ``timesteps``, when given)."""
        errors = np.asarray(errors, dtype=np.float64)
        if errors.ndim != 3 or errors.shape[1] < 2:
            raise ValueError(f"a calibration needs one-stage errors [images, classes >= 2, grid points], "
                             f"got shape {errors.shape}")
        rows = np.arange(len(errors))
        winner = errors.mean(axis=2).argmin(axis=1)
        losing = np.ones(errors.shape[:2], dtype=bool)
        losing[rows, winner] = False
        diff = (errors - errors[rows, winner][:, None, :])[losing]
        if len(diff) < 2:
            raise ValueError(f"a calibration needs at least 2 differences, got {len(diff)} from {len(errors)} "
                             "image(s)")
        cov = np.atleast_2d(np.cov(diff, rowvar=False))
        grid = None if timesteps is None else np.asarray(timesteps, dtype=np.int64)
        return cls(diff.mean(axis=0), cov + shrink * np.diag(np.diag(cov)), len(errors), grid)

    @property
    def grid_size(self) -> int:
        return len(self.mean)

    @cached_property
    def order(self) -> np.ndarray:
        """The grid in greedy order: each next point is the one whose value most reduces
        the variance of the grid's sum given the points before it."""
        # The rows of the points not yet chosen (all columns), in grid order: a chosen point's row
        # is never read again, so it is dropped instead of updated (the same bytes, half the work).
        cov = self.cov.copy()
        rows = np.arange(self.grid_size)
        order: list[int] = []
        for _ in range(self.grid_size):
            with_sum = cov.sum(axis=1)  # covariance of each point with the grid's sum, given the seen
            gain = with_sum ** 2 / np.maximum(cov[np.arange(len(rows)), rows], 1e-300)
            r = int(np.argmax(gain))
            j, pivot_row = int(rows[r]), cov[r]
            order.append(j)
            cov, rows = np.delete(cov, r, axis=0), np.delete(rows, r)
            if pivot_row[j] > 0:  # condition on point j (in place: cov - outer / pivot, without copies)
                update = np.outer(cov[:, j], pivot_row)
                update /= pivot_row[j]
                cov -= update
        return np.asarray(order, dtype=np.int64)

    def predictor(self, points: int) -> tuple[np.ndarray, float, float]:
        """The grid's sum of differences given the values ``d`` of the first ``points`` of
        :attr:`order`: ``sum(d) + weights @ d + offset``, with standard deviation ``sd``.

        Gaussian conditioning: the unseen points' sum has mean ``1' (mu_U + C_US C_SS^-1
        (d - mu_S))`` and variance ``1' (C_UU - C_US C_SS^-1 C_SU) 1``.
        """
        if points not in self._prefixes:
            seen, unseen = self.order[:points], self.order[points:]
            if not len(unseen):
                self._prefixes[points] = (np.zeros(len(seen)), 0.0, 0.0)
            else:
                cross = self.cov[np.ix_(seen, unseen)]
                # least squares: a point that never differs between classes (zero variance) is harmless
                weights = np.linalg.lstsq(self.cov[np.ix_(seen, seen)], cross, rcond=None)[0].sum(axis=1)
                offset = float(self.mean[unseen].sum() - weights @ self.mean[seen])
                var = float(self.cov[np.ix_(unseen, unseen)].sum() - weights @ cross.sum(axis=1))
                self._prefixes[points] = (weights, offset, math.sqrt(max(var, 0.0)))
        return self._prefixes[points]

    def to_dict(self) -> dict:
        out = {"mean": self.mean.tolist(), "cov": self.cov.tolist(), "images": self.images}
        if self.timesteps is not None:
            out["timesteps"] = self.timesteps.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "calibration") -> "Calibration":
        """The calibration of :meth:`to_dict`'s form; a damaged one (a key missing, a value that
        is no number, non-finite values, shapes that disagree) is a :class:`CalibrationError`."""
        if not isinstance(data, dict):
            raise CalibrationError(f"{where} is not a calibration (a JSON object with mean, cov, images): "
                                   "fit it again with diffusion-classifier fit-calibration")
        missing = [key for key in ("mean", "cov", "images") if key not in data]
        if missing:
            raise CalibrationError(f"{where} lacks {', '.join(missing)}: fit it again with "
                                   "diffusion-classifier fit-calibration")
        try:
            timesteps = data.get("timesteps")
            mean, cov = np.asarray(data["mean"], dtype=np.float64), np.asarray(data["cov"], dtype=np.float64)
            images = data["images"]
            grid = None if timesteps is None else np.asarray(timesteps, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{where} holds a value that is not a number ({exc}): fit it again") from None
        problems = []
        if mean.ndim != 1 or not len(mean):
            problems.append(f"mean has shape {mean.shape}, not [grid points]")
        elif cov.shape != (len(mean), len(mean)):
            problems.append(f"cov has shape {cov.shape}, not {len(mean)} x {len(mean)} like mean")
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            problems.append("mean or cov holds NaN or infinite values")
        if isinstance(images, bool) or not isinstance(images, int) or images < 1:
            problems.append(f"images is {images!r}, not a count of at least 1")
        if grid is not None and grid.shape != mean.shape:
            problems.append(f"{len(grid)} timesteps for {len(mean)} grid points")
        if problems:
            raise CalibrationError(f"{where}: {'; '.join(problems)}: fit it again with diffusion-classifier "
                                   "fit-calibration")
        fitted_on = (data.get("provenance") or {}).get("image_ids") or ()
        return cls(mean, cov, images, grid, tuple(str(i) for i in fitted_on))

    def refuse_overlap(self, image_ids, where: str = "the calibration") -> None:
        """Refuse to classify images this calibration was fitted on: its variances would be
        fitted to their own errors, and the test's error rates would look better than they are."""
        shared = sorted(set(self.fitted_on) & {str(i) for i in image_ids})
        if shared:
            raise CalibrationError(
                f"{where} was fitted on {len(shared)} of the images this run classifies (e.g. "
                f"{', '.join(shared[:3])}): fit it on other images (a calibration split, e.g. train images)")

    def save(self, path, provenance: dict | None = None) -> None:
        """Write the calibration as JSON, with ``provenance`` (what it was fitted on) beside it."""
        from ..artifacts.io import write_json

        write_json(path, {**self.to_dict(), **({"provenance": provenance} if provenance else {})})

    @classmethod
    def load(cls, path) -> "Calibration":
        """Read :meth:`save`'s file; a damaged one is a one-line error naming it (not valid
        JSON: :class:`~diffusion_classifier.artifacts.DamagedFileError`; values that are no
        calibration: :class:`CalibrationError`)."""
        from ..artifacts.io import read_json

        if not Path(path).is_file():
            raise FileNotFoundError(path)
        data = read_json(path, "fit it again with diffusion-classifier fit-calibration", "calibration file")
        return cls.from_dict(data, f"calibration file {path}")


class CalibrationError(UserError, ValueError):
    """A calibration file is damaged, or does not fit the run that reads it."""


def spread_order(grid_size: int) -> np.ndarray:
    """Grid indices in bit-reversed order: every prefix spreads over the whole grid.

    For a grid that is not a power of two, the bit-reversal of the next power of two
    with the indices past the grid skipped (25 points: 0, 16, 8, 24, 4, 20, 12, 2, ...).
    """
    if grid_size < 1:
        raise ValueError(f"a grid needs at least one point, got {grid_size}")
    bits = max(1, (grid_size - 1).bit_length())
    order = [int(format(i, f"0{bits}b")[::-1], 2) for i in range(1 << bits)]
    return np.asarray([j for j in order if j < grid_size], dtype=np.int64)


def visit_order(timesteps, first: tuple[int, int] | None = None) -> np.ndarray:
    """The spread order, with the points whose timestep is in ``[lo, hi)`` moved to the front."""
    order = spread_order(len(timesteps))
    if first is None:
        return order
    t = np.asarray(timesteps)[order]
    inside = (t >= first[0]) & (t < first[1])
    return np.concatenate([order[inside], order[~inside]])


def point_blocks(timesteps, config: SequentialConfig, calibration: Calibration | None = None) -> list[np.ndarray]:
    """The visiting order of the grid (its ``timesteps``) cut into blocks of ``config.block`` points:
    the calibration's order for ``test: conditional``, else the spread order."""
    grid_size = len(timesteps)
    if config.test == CONDITIONAL:
        order = _checked(calibration, grid_size, timesteps).order
    else:
        order = visit_order(timesteps, config.first)
    check_block_count(grid_size, config)
    return [order[i:i + config.block] for i in range(0, grid_size, config.block)]


def check_block_count(grid_size: int, config: SequentialConfig) -> None:
    """Refuse a block size that cuts the grid into more blocks than the error store numbers."""
    blocks = math.ceil(grid_size / config.block)
    if blocks > MAX_BLOCKS:
        raise ValueError(f"sequential.block {config.block} cuts a grid of {grid_size} points into {blocks} "
                         f"blocks; the error store records at most {MAX_BLOCKS}: use block >= "
                         f"{math.ceil(grid_size / MAX_BLOCKS)}")


def _checked(calibration: Calibration | None, grid_size: int, timesteps=None) -> Calibration:
    if calibration is None:
        raise ValueError("sequential.test conditional needs a calibration: sequential.calibration (a file) in "
                         "a direct run; a replay study fits one from the stored run")
    if calibration.grid_size != grid_size:
        raise ValueError(f"the calibration covers {calibration.grid_size} grid points, the grid has {grid_size}: "
                         "fit it on a one-stage run of the same grid")
    if (timesteps is not None and calibration.timesteps is not None
            and not np.array_equal(np.asarray(timesteps), calibration.timesteps)):
        raise ValueError(f"the calibration was fitted on timesteps {calibration.timesteps.tolist()}, the grid is "
                         f"{np.asarray(timesteps).tolist()}: fit it on a one-stage run of the same grid")
    return calibration


class EliminationTest:
    """The test's state for one image: surviving classes and their errors so far.

    Args:
        num_classes: Candidate classes; all survive at the start.
        grid_size: Points of the one-stage grid.
        config: Block size, ``k`` and ``min_points``.
        calibration: ``test: conditional`` only; the errors must then arrive in
            :func:`point_blocks`'s order.
    """

    def __init__(self, num_classes: int, grid_size: int, config: SequentialConfig,
                 calibration: Calibration | None = None) -> None:
        if num_classes < 1:
            raise ValueError("cannot classify among an empty class list")
        self.config = config
        self.grid_size = grid_size
        if config.test == CONDITIONAL:
            self._calibration = _checked(calibration, grid_size)
        else:
            self._factor = ELIMINATION_TESTS[config.test]
        self.survivors = np.arange(num_classes, dtype=np.int64)
        self._errors = np.zeros((num_classes, grid_size), dtype=np.float64)
        self._points = 0

    @property
    def done(self) -> bool:
        return len(self.survivors) == 1

    def update(self, errors: np.ndarray) -> np.ndarray:
        """Add one block's errors ``[survivors, points]`` and test; returns the survivors, best first.

        Rows are the current survivors in ascending class order; ties of the mean go
        to the lower class index.
        """
        errors = np.asarray(errors)
        if errors.shape[0] != len(self.survivors):
            raise ValueError(f"got errors of {errors.shape[0]} classes for {len(self.survivors)} survivors")
        n = self._points + errors.shape[1]
        self._errors[self.survivors, self._points:n] = errors.astype(np.float64)
        self._points = n
        seen = self._errors[self.survivors, :n]
        means = seen.mean(axis=1)
        leader = int(np.argmin(means))
        if n >= self.config.min_points:
            diff = seen - seen[leader]
            if self.config.test == CONDITIONAL:
                weights, offset, sd = self._calibration.predictor(n)
                drop = diff.sum(axis=1) + diff @ weights + offset > self.config.k * sd
            else:
                stderr = self._stderr(diff, leader, n) * self._factor(n, self.grid_size)
                drop = diff.mean(axis=1) > self.config.k * stderr
            drop[leader] = False
            self.survivors, means = self.survivors[~drop], means[~drop]
        return self.survivors[np.argsort(means, kind="stable")]

    def _stderr(self, diff: np.ndarray, leader: int, n: int) -> np.ndarray:
        """Standard error of each survivor's mean difference, its variance shrunk towards the pool."""
        if not self.config.pool or len(diff) < 2:
            return diff.std(axis=1, ddof=1) / math.sqrt(n)
        var = diff.var(axis=1, ddof=1)
        pooled = np.delete(var, leader).mean()
        pool = self.config.pool
        return np.sqrt(((n - 1) * var + pool * pooled) / (n - 1 + pool) / n)
