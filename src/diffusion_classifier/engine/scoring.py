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

An image's decisions are a coroutine (:meth:`DiffusionClassifier.steps`): the stages of
Algorithms 1 and 2, or the blocks of the sequential strategy (:func:`sequential_steps`,
testing with :mod:`.sequential`). One image answers its own requests
(:meth:`DiffusionClassifier.classify`), or several images share every batch
(:func:`classify_packed`, at the end of this module: it drives the classifier's batch
machinery, so it lives beside it). What a run returns is in :mod:`.results`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .acceleration import Acceleration, pad_rows
from .batching import AUTO, BATCH_SIZE, AutoBatch, check_batch_size
from .objectives import PairBatch, get_objective, needs_variance
from .predictor import NoisePredictor
from .progress import PairLog
from .results import ImageScores, NonFiniteErrorsError
from .schedule import Schedule
from .sequential import EliminationTest, SequentialConfig, check_block_count, point_blocks

__all__ = ["ScoringConfig", "DiffusionClassifier", "check_finite", "draw_noise", "sequential_steps",
           "classify_packed"]

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
        """:meth:`classify` several inputs at once, batches packed across them (:func:`classify_packed`)."""
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
        (:meth:`classify`: one image; :func:`classify_packed`: batches shared by several images).
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


def sequential_steps(classifier: "DiffusionClassifier", start: float) -> "Steps":
    """The direct run's decisions: ask for one block's pairs at a time, testing after each
    (a :meth:`DiffusionClassifier.steps` coroutine; the test is :mod:`.sequential`'s)."""
    config, schedule = classifier.config, classifier.config.schedule
    calibration = config.sequential.load_calibration()
    test = EliminationTest(classifier.num_classes, len(schedule.grid), config.sequential, calibration)
    pieces: dict[str, list[np.ndarray]] = {"condition": [], "grid_index": [], "stage": []}
    errors: dict[str, list[np.ndarray]] = {name: [] for name in config.objectives}
    kept: list[list[int]] = []
    for index, block in enumerate(point_blocks(schedule.grid, config.sequential, calibration)):
        alive = test.survivors
        cond_idx = torch.from_numpy(alive).repeat_interleave(len(block))
        grid_idx = torch.from_numpy(block).repeat(len(alive))
        block_errors = yield cond_idx, grid_idx
        ranked = test.update(block_errors[config.loss].reshape(len(alive), len(block)))
        for name, values in block_errors.items():
            errors[name].append(values)
        pieces["condition"].append(cond_idx.numpy())
        pieces["grid_index"].append(grid_idx.numpy())
        pieces["stage"].append(np.full(len(cond_idx), index))
        kept.append([int(c) for c in ranked])
        if test.done:
            break
    return ImageScores.collect(pieces, errors, schedule.grid, kept, kept[-1][0], start)


# --- Batches packed across images: full batches when a stage leaves too few pairs.
#
# The first stage of an image fills batches on its own (every class at several grid
# points), but Algorithm 2's last stages (a few survivors at a few new points) and the
# sequential strategy's late blocks (one or two survivors at one point) ask for far fewer
# pairs than a GPU batch holds, so a one-image loop runs the network mostly empty. Here
# several images advance together: each image's decisions are a coroutine
# (:meth:`DiffusionClassifier.steps`) that asks for pairs and receives their
# errors, and every batch is filled with the pending pairs of the images in order. An
# image's decisions see exactly the errors an unpacked run computes (a pair's error
# depends on its own input, noise, timestep and class only), so its stored pairs and
# prediction are the same; only the batches differ.


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
        inputs: One ``(x0, noise)`` per image, as :meth:`DiffusionClassifier.classify` takes.
        logs: One :class:`PairLog` per image (mid-image checkpoints and resumes), or ``None``.

    Returns:
        One :class:`ImageScores` per input, in order; ``seconds`` is the time from the
        start of the call to the image's last decision.
    """
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
