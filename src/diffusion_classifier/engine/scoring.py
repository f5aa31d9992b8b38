"""Batched Diffusion Classifier scoring of one image (paper Algorithms 1 and 2).

For an input ``x0`` (already in the model's space: a VAE latent or pixels), a
conditioning table with one row per candidate class, and a :class:`Schedule`, the
classifier evaluates the noise-prediction error of every surviving class at every
new grid point of each stage, then keeps the classes with the lowest mean error.

Variance reduction (Sec. 3.3): noise ``j`` belongs to grid point ``j`` and is the
same for every class, so the classes are compared on paired samples. (The authors'
release numbers noise by evaluation order instead; tying it to the grid point makes
a stored one-stage run replayable under any adaptive schedule on the same grid.)
Passes are batched across classes and timesteps; the model never sees a batch of one
class at a time unless the batch size asks for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..models.base import NoisePredictor
from .acceleration import Acceleration, pad_rows
from .batching import AUTO, BATCH_SIZE, AutoBatch, check_batch_size
from .objectives import PairBatch, get_objective, needs_variance
from .progress import PairLog
from .schedule import Schedule
from .sequential import SequentialConfig, check_block_count, sequential_steps

__all__ = ["ScoringConfig", "ImageScores", "DiffusionClassifier", "NonFiniteErrorsError", "check_finite",
           "draw_noise"]

logger = logging.getLogger(__name__)

Request = tuple[torch.Tensor, torch.Tensor]
"""Pairs an image's decisions ask for next: ``(condition indices, grid indices)``."""


def drive(steps: "Steps", evaluate: Callable[[torch.Tensor, torch.Tensor], dict[str, np.ndarray]]) -> "ImageScores":
    """Run one image's :meth:`DiffusionClassifier.steps`, answering each request with ``evaluate``."""
    try:
        request = next(steps)
        while True:
            request = steps.send(evaluate(*request))
    except StopIteration as done:
        return done.value


class NonFiniteErrorsError(ValueError):
    """A noise prediction gave a NaN or infinite error: the ranking would be meaningless."""


def check_finite(errors: dict[str, np.ndarray], conditions: np.ndarray, timesteps: np.ndarray,
                 stage: int) -> None:
    """Refuse a stage whose errors are not all finite, naming the first bad pair.

    NaN sorts last and compares false, so without this a model that overflows (fp16)
    or a broken checkpoint yields a confident-looking prediction of class 0. The
    engine does not know the image's id: the scoring stage adds it to the message.
    """
    for name, values in errors.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise NonFiniteErrorsError(
                f"non-finite {name} error ({values[i]}) at stage {stage}, timestep {int(timesteps[i])}, "
                f"class {int(conditions[i])} ({bad.size} of {values.size} pairs in the stage): the model "
                "overflowed or its weights are broken; check the checkpoint, or use dtype float32"
            )


@dataclass(frozen=True)
class ScoringConfig:
    """Settings of one scoring run, saved beside its results.

    Attributes:
        schedule: Which (timestep, noise) pairs are evaluated for which classes.
        loss: The objective that ranks classes (``l2``, ``l1``, ``huber``, ...).
        extra_objectives: Further objectives stored per pair from the same passes
            (e.g. the VLB of a model with a learned variance), never used to rank.
        batch_size: Noise-predictor inputs per forward pass, or ``auto``: the most that
            the device's free memory holds (:mod:`.batching`).
        sequential: Sequential elimination on the one-stage grid (:mod:`.sequential`)
            instead of the schedule's fixed stages; ``None``: Algorithm 1 / 2.
        acceleration: GPU speed switches (:mod:`.acceleration`); all off by default.
        forward_rows: Rows of every forward pass (batches run in pieces of exactly
            this many, the last padded), so that a pair's error does not depend on the
            pairs that share its batch: batch size, packing across images and the
            surviving classes of adaptive and sequential runs leave its bytes alone.
            ``None``: each batch as it comes. Portable CPU numerics set it
            (:func:`diffusion_classifier.numerics.forward_rows`).
    """

    schedule: Schedule
    loss: str = "l2"
    extra_objectives: tuple[str, ...] = ()
    batch_size: int | str = BATCH_SIZE
    sequential: SequentialConfig | None = None
    acceleration: Acceleration = Acceleration()
    forward_rows: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_objectives", tuple(self.extra_objectives))
        for name in (self.loss, *self.extra_objectives):
            get_objective(name)
        if self.loss in self.extra_objectives:
            raise ValueError(f"{self.loss!r} is the ranking loss; do not list it in extra_objectives too")
        check_batch_size(self.batch_size)
        if self.forward_rows is not None and (isinstance(self.forward_rows, bool) or self.forward_rows < 1):
            raise ValueError(f"forward_rows must be a positive number of rows or None, got {self.forward_rows!r}")
        if self.sequential is not None and len(self.schedule.stages) != 1:
            raise ValueError(f"the sequential strategy tests on a one-stage grid (evaluations: [N], keep: [1]); "
                             f"got evaluations {list(self.schedule.evaluations)}, keep {list(self.schedule.keep)}")
        if self.sequential is not None:
            check_block_count(len(self.schedule.grid), self.sequential)  # the error store's limit

    @property
    def objectives(self) -> tuple[str, ...]:
        return (self.loss, *self.extra_objectives)

    def to_dict(self) -> dict:
        out = {
            "schedule": self.schedule.to_dict(),
            "loss": self.loss,
            "extra_objectives": list(self.extra_objectives),
            "batch_size": self.batch_size,
        }
        if self.sequential is not None:
            out["sequential"] = self.sequential.to_dict()
        if not self.acceleration.is_default:
            out["acceleration"] = self.acceleration.to_dict()
        if self.forward_rows is not None:
            out["forward_rows"] = self.forward_rows
        return out


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


Steps = Generator[Request, dict[str, np.ndarray], ImageScores]
"""One image's decisions as a coroutine (:meth:`DiffusionClassifier.steps`)."""


def draw_noise(seed: int, num_noise: int, shape: tuple[int, ...]) -> torch.Tensor:
    """One standard-normal noise tensor per grid point, from a CPU generator.

    Drawn on the CPU in float32 so that the same seed gives the same noise on any
    device; the caller moves it to the model's device.
    """
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((num_noise, *shape), generator=generator, dtype=torch.float32)


class DiffusionClassifier:
    """Classifies inputs by comparing a noise predictor's errors across conditions.

    Args:
        predictor: The conditional noise predictor.
        conditioning: The conditioning table, one row per candidate class, prepared
            once per run (class ids, or prompt embeddings), on the predictor's device.
        config: Schedule, loss and batching.
    """

    def __init__(self, predictor: NoisePredictor, conditioning: torch.Tensor, config: ScoringConfig) -> None:
        if len(conditioning) == 0:
            raise ValueError("the class list is empty: give at least one class to score against")
        config.schedule.check_classes(len(conditioning))
        if config.schedule.num_train_timesteps != predictor.num_train_timesteps:
            raise ValueError(
                f"the schedule assumes {config.schedule.num_train_timesteps} training timesteps "
                f"but model {predictor.model_id!r} was trained with {predictor.num_train_timesteps}; "
                "set num_train_timesteps to match the model"
            )
        wanting_variance = [name for name in config.objectives if needs_variance(name)]
        if wanting_variance and not predictor.learns_variance:
            raise ValueError(
                f"objectives {wanting_variance} need a learned variance, which model "
                f"{predictor.model_id!r} does not predict"
            )
        self.predictor = predictor
        self.conditioning = conditioning
        self.config = config
        self._objectives = {name: get_objective(name) for name in config.objectives}
        abar = predictor.alphas_cumprod.to(torch.float64)
        self._abar = abar
        self._signal = abar.sqrt().to(torch.float32)
        self._noise_scale = (1.0 - abar).sqrt().to(torch.float32)
        self.grid = torch.tensor(config.schedule.grid, dtype=torch.long)
        self._auto = AutoBatch() if config.batch_size == AUTO else None
        # Inputs per forward pass; with ``auto`` chosen before the first batch, halved on out-of-memory.
        self.batch_size: int | None = None if self._auto else config.batch_size
        config.acceleration.apply_backends()
        self._predict = config.acceleration.prepare(predictor)

    @property
    def num_classes(self) -> int:
        return len(self.conditioning)

    @torch.no_grad()
    def classify(self, x0: torch.Tensor, noise: torch.Tensor, log: PairLog | None = None) -> ImageScores:
        """Run every stage of the schedule on one input.

        Args:
            x0: The input in the model's space, ``[C, H, W]``.
            noise: One noise tensor per grid point, ``[schedule.num_noise, C, H, W]``.
            log: Records every batch (for a mid-image checkpoint); one made from a
                previous attempt's state serves its pairs instead of evaluating them
                again (:mod:`.progress`). The result is the same either way.
        """
        start = time.perf_counter()
        x0, noise = self._prepare(x0, noise)
        log = PairLog() if log is None else log
        return drive(self.steps(start), lambda c, g: self._evaluate(x0, noise, c, g, log))

    def classify_packed(self, inputs: Sequence[tuple[torch.Tensor, torch.Tensor]],
                        logs: Sequence[PairLog] | None = None) -> list[ImageScores]:
        """:meth:`classify` several inputs at once, batches packed across them (:mod:`.packing`)."""
        from .packing import classify_packed

        return classify_packed(self, inputs, logs)

    def _prepare(self, x0: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Check the noise's shape; both on the device, in float32."""
        schedule = self.config.schedule
        if noise.shape != (schedule.num_noise, *x0.shape):
            raise ValueError(
                f"noise has shape {tuple(noise.shape)}, expected {(schedule.num_noise, *x0.shape)}"
            )
        device = self.predictor.device
        return x0.to(device, torch.float32), noise.to(device, torch.float32)

    def steps(self, start: float) -> Steps:
        """The decisions of one image: yields the pairs ``(conditions, grid indices)`` to evaluate
        next, receives their errors, and returns the :class:`ImageScores`.

        Who evaluates the pairs, and in which batches, is the caller's business
        (:meth:`classify`: one image; :mod:`.packing`: batches shared by several images).
        """
        if self.config.sequential is not None:
            return sequential_steps(self, start)
        return self._stage_steps(start)

    def _stage_steps(self, start: float) -> Steps:
        """Algorithms 1 and 2: every surviving class at each stage's new grid points."""
        schedule = self.config.schedule
        grid = self.grid
        alive = list(range(self.num_classes))
        pieces: dict[str, list[np.ndarray]] = {k: [] for k in ("condition", "grid_index", "stage")}
        errors: dict[str, list[np.ndarray]] = {name: [] for name in self.config.objectives}
        sums = np.zeros(self.num_classes, dtype=np.float64)
        counts = np.zeros(self.num_classes, dtype=np.int64)
        kept: list[list[int]] = []

        for stage in schedule.stages:
            new = torch.tensor(stage.grid_indices, dtype=torch.long)
            # Pairs in class-major order: every new grid point for each surviving class.
            cond_idx = torch.tensor(alive, dtype=torch.long).repeat_interleave(len(new))
            grid_idx = new.repeat(len(alive))
            stage_errors = yield cond_idx, grid_idx
            check_finite(stage_errors, cond_idx.numpy(), grid[grid_idx].numpy(), stage.index)

            ranking = stage_errors[self.config.loss]
            np.add.at(sums, cond_idx.numpy(), ranking.astype(np.float64))
            np.add.at(counts, cond_idx.numpy(), 1)
            for name, values in stage_errors.items():
                errors[name].append(values)
            pieces["condition"].append(cond_idx.numpy())
            pieces["grid_index"].append(grid_idx.numpy())
            pieces["stage"].append(np.full(len(cond_idx), stage.index))

            # Keep the classes with the lowest running mean; ties go to the lower index.
            alive_arr = np.asarray(alive)
            means = sums[alive_arr] / np.maximum(counts[alive_arr], 1)
            order = np.argsort(means, kind="stable")
            alive = [int(c) for c in alive_arr[order[: stage.keep]]]
            kept.append(alive)

        return ImageScores.collect(pieces, errors, schedule.grid, kept, alive[0], start)

    def _evaluate(
        self,
        x0: torch.Tensor,
        noise: torch.Tensor,
        cond_idx: torch.Tensor,
        grid_idx: torch.Tensor,
        log: PairLog,
    ) -> dict[str, np.ndarray]:
        """Errors of every (condition, grid point) pair, in batches recorded in ``log``."""
        device = self.predictor.device
        out: dict[str, list[torch.Tensor]] = {name: [] for name in self._objectives}
        self._choose_batch_size(x0, noise, cond_idx, grid_idx)
        lo = 0
        while lo < len(cond_idx):
            c, g = cond_idx[lo : lo + self.batch_size], grid_idx[lo : lo + self.batch_size]
            try:
                errors = log.evaluate(c, g, lambda k: self._pair_errors(x0, noise, c[k:], g[k:]), device)
            except torch.OutOfMemoryError as exc:
                self._halve_batch_size(exc)
                continue
            for name, values in errors.items():
                out[name].append(values)
            lo += len(c)
        # Errors stay on the device until the stage is done: one host sync per stage.
        return {name: torch.cat(v).cpu().numpy() for name, v in out.items()}

    def _choose_batch_size(self, x0: torch.Tensor, noise: torch.Tensor, cond_idx: torch.Tensor,
                           grid_idx: torch.Tensor) -> None:
        """With ``auto``, before the first batch: a trial on these pairs sizes the batches."""
        if self.batch_size is None:
            self.batch_size = self._auto.choose(
                self.predictor.device, lambda n: self._pair_errors(x0, noise, cond_idx[:n], grid_idx[:n]),
                len(cond_idx))

    def _halve_batch_size(self, exc: BaseException) -> None:
        """After an out-of-memory error: halve an ``auto`` batch size (and say so), else re-raise it."""
        if self._auto is None or self.batch_size == 1:
            raise exc
        self.batch_size //= 2
        logger.warning("out of memory with batch_size auto: retrying with %d inputs per batch", self.batch_size)
        if self.predictor.device.type == "cuda":
            torch.cuda.empty_cache()

    def _pair_errors(self, x0: torch.Tensor, noise: torch.Tensor, cond_idx: torch.Tensor,
                     grid_idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """Errors of a batch of one image's pairs, on the device."""
        return self._batch_errors(x0, noise[grid_idx.to(noise.device)], self.grid[grid_idx], cond_idx)

    def _batch_errors(
        self,
        x0: torch.Tensor,
        eps_true: torch.Tensor,
        t: torch.Tensor,
        cond_idx: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Errors of one batch, on the device: ``x0`` is one input ``[C, H, W]`` or one per row,
        ``eps_true`` the noise of each row, ``t`` its timestep, ``cond_idx`` its class.

        With ``forward_rows`` the batch runs in pieces of exactly that many rows (the
        last one padded), objectives included, so every row's bytes are those of the
        same shape whatever shares its batch.
        """
        rows = self.config.forward_rows
        if rows is None:
            pad_to = (self.batch_size or len(t)) if self.config.acceleration.pads else len(t)
            return self._padded_errors(x0, eps_true, t, cond_idx, pad_to)
        per_row = x0.dim() == eps_true.dim()
        pieces = [self._padded_errors(x0[lo : lo + rows] if per_row else x0, eps_true[lo : lo + rows],
                                      t[lo : lo + rows], cond_idx[lo : lo + rows], rows)
                  for lo in range(0, len(t), rows)]
        return {name: torch.cat([piece[name] for piece in pieces]) for name in self._objectives}

    def _padded_errors(self, x0: torch.Tensor, eps_true: torch.Tensor, t: torch.Tensor, cond_idx: torch.Tensor,
                       pad_to: int) -> dict[str, torch.Tensor]:
        """:meth:`_batch_errors` of one forward pass of ``pad_to`` rows (the last row repeated);
        the padded rows are cut off the errors, so they never reach the store."""
        device = self.predictor.device
        n = len(t)
        t = pad_rows(t, pad_to)
        signal = self._signal[t].to(device).view(-1, 1, 1, 1)
        scale = self._noise_scale[t].to(device).view(-1, 1, 1, 1)
        eps_true = pad_rows(eps_true, pad_to)
        x0 = pad_rows(x0, pad_to) if x0.dim() == eps_true.dim() else x0
        x_t = signal * x0 + scale * eps_true
        conditions = pad_rows(self.conditioning[cond_idx.to(self.conditioning.device)], pad_to)
        pred = self._forward(x_t, t, conditions)
        batch = PairBatch(
            x0=x0.expand_as(x_t),
            x_t=x_t,
            noise=eps_true,
            eps=pred.eps.float(),
            timesteps=t,
            alphas_cumprod=self._abar,
            variance=None if pred.variance is None else pred.variance.float(),
        )
        return {name: objective(batch).float()[:n] for name, objective in self._objectives.items()}

    def _forward(self, x_t: torch.Tensor, t: torch.Tensor, conditions: torch.Tensor):
        """One network pass in the model's dtype, under the configured autocast and layout."""
        accel = self.config.acceleration
        with accel.autocast_context(self.predictor.device):
            return self._predict(accel.inputs(x_t.to(self.predictor.dtype)), t.to(self.predictor.device),
                                 conditions)
