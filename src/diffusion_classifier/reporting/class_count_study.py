"""Sequential elimination against the class count, on a diffusion model known in closed form.

Beyond the paper. The sequential test (:mod:`..engine.sequential`) keeps the one-stage
answer at a tenth of its passes on the 10 digit classes; the paper's expensive runs have
1,000 classes (ImageNet, Sec. 4.2). This study asks whether the savings and the agreement
hold as the class count grows, before a GPU hour is spent on a 1,000-class sequential run.

The model (:class:`GaussianClasses`): images ``x0 ~ N(mu_c, s^2 I)`` of class ``c`` under
Stable Diffusion's noise schedule (scaled-linear betas 0.00085..0.012, 1,000 steps). Its
exact noise prediction is the posterior mean ``E[eps | x_t, c] = b (x_t - a mu_c) /
(a^2 s^2 + b^2)`` with ``a = sqrt(abar_t)``, ``b = sqrt(1 - abar_t)``; its Bayes
classifier is the nearest mean. It goes through the real engine
(:class:`..engine.predictor.CallablePredictor`, :class:`..engine.DiffusionClassifier`),
one stage on the grid of the paper's adaptive schedule for that class count, storing
every (class, grid point) error; the engine's exact replays
(:func:`..engine.replay.replay_schedule`, :func:`..engine.replay.cross_fitted_replay`)
then give the paper's schedule and the sequential test. At each class count the spreads
are chosen so that the Bayes accuracy spans easy to hard.

The model is kinder than a trained network: its prediction is exact, so its errors carry
only the noise's randomness (on the digits' trained UNet the sequential test needed
0.07-0.15 of one stage's passes at 10 classes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .figures import pyplot, save_figure

if TYPE_CHECKING:
    import torch

    from ..engine.predictor import CallablePredictor
    from ..engine.replay import ErrorCube
    from ..specs import ClassCountStudySpec

__all__ = ["PAPER_PASSES_PER_SECOND", "SPEED_SOURCE", "GaussianClasses", "sd_alphas_cumprod", "spread_for",
           "one_stage_cube", "class_count_rows", "class_count_study", "gpu_hours", "plot_class_count",
           "ClassCountResult"]

log = logging.getLogger(__name__)

# Paper Sec. 4.2: an Oxford-IIIT Pets image, (25 x 37 + 225 x 5) = 2,050 passes with its
# adaptive schedule, takes 18 s on an RTX 3090.
PAPER_PASSES_PER_SECOND = (25 * 37 + 225 * 5) / 18
SPEED_SOURCE = ("the paper's speed (Sec. 4.2: a Pets image, 25 x 37 + 225 x 5 = 2,050 passes, takes 18 s on an "
                f"RTX 3090: {PAPER_PASSES_PER_SECOND:.0f} passes/s)")
SD_BETAS = (0.00085, 0.012)  # Stable Diffusion's scaled-linear betas (its released scheduler config)
SPREAD_SEARCH = {"low": 0.1, "high": 20.0, "tolerance": 0.01, "images": 4000, "draw": 2}  # spread_for's bisection


def sd_alphas_cumprod(num_train_timesteps: int = 1000) -> torch.Tensor:
    """Stable Diffusion's ``abar_t``: betas linear in their square root between :data:`SD_BETAS`."""
    import torch

    lo, hi = SD_BETAS
    betas = torch.linspace(lo ** 0.5, hi ** 0.5, num_train_timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


@dataclass(frozen=True)
class GaussianClasses:
    """``num_classes`` isotropic Gaussians of spread ``spread`` around standard-normal means.

    Attributes:
        num_classes: Classes.
        spread: Standard deviation ``s`` of every class around its mean.
        shape: An image's shape ``[C, H, W]``.
        seed: Seed of the means; an image draw has a seed of its own (:meth:`sample`).
    """

    num_classes: int
    spread: float
    shape: tuple[int, ...]
    seed: int

    @property
    def means(self) -> torch.Tensor:
        import torch

        generator = torch.Generator().manual_seed(self.seed)
        return torch.randn((self.num_classes, *self.shape), generator=generator, dtype=torch.float32)

    def sample(self, num_images: int, draw: int = 1) -> tuple[torch.Tensor, np.ndarray]:
        """``num_images`` images with classes drawn uniformly, and their labels (seed ``seed + draw``)."""
        import torch

        generator = torch.Generator().manual_seed(self.seed + draw)
        labels = torch.randint(self.num_classes, (num_images,), generator=generator)
        noise = torch.randn((num_images, *self.shape), generator=generator, dtype=torch.float32)
        return self.means[labels] + self.spread * noise, labels.numpy()

    def bayes(self, x0: torch.Tensor) -> np.ndarray:
        """The Bayes classifier: the nearest class mean (equal priors and spreads)."""
        import torch

        distances = torch.cdist(x0.flatten(1), self.means.flatten(1), compute_mode="donot_use_mm_for_euclid_dist")
        return distances.argmin(1).numpy()

    def noise_prediction(self, abar: torch.Tensor):
        """``fn(x_t, t, c)``: the exact ``E[eps | x_t, c]`` of this model under ``abar``."""
        means, s2 = self.means, self.spread ** 2
        a, b = abar.sqrt().float(), (1 - abar).sqrt().float()

        def fn(x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
            at, bt = a[t].view(-1, 1, 1, 1), b[t].view(-1, 1, 1, 1)
            return bt * (x_t - at * means[cond]) / (at ** 2 * s2 + bt ** 2)

        return fn

    def predictor(self, abar: torch.Tensor) -> CallablePredictor:
        """The engine's predictor of :meth:`noise_prediction`."""
        from ..engine.predictor import CallablePredictor

        return CallablePredictor(self.noise_prediction(abar), abar,
                                 model_id=f"gaussian-{self.num_classes}-{self.spread:g}")


def spread_for(num_classes: int, bayes_accuracy: float, shape: tuple[int, ...], seed: int) -> float:
    """The spread (2 decimals) at which the nearest-mean accuracy of the means of ``seed`` is
    ``bayes_accuracy``, by bisection on an image draw of its own (not the study's images)."""
    lo, hi = SPREAD_SEARCH["low"], SPREAD_SEARCH["high"]
    while hi - lo > SPREAD_SEARCH["tolerance"]:
        mid = (lo + hi) / 2
        model = GaussianClasses(num_classes, mid, shape, seed)
        x0, labels = model.sample(SPREAD_SEARCH["images"], draw=SPREAD_SEARCH["draw"])
        lo, hi = (mid, hi) if (model.bayes(x0) == labels).mean() > bayes_accuracy else (lo, mid)
    return round((lo + hi) / 2, 2)


def one_stage_cube(model: GaussianClasses, grid_size: int, num_images: int,
                   batch_size: int) -> tuple[ErrorCube, np.ndarray]:
    """Every class scored at every point of an evenly spaced grid of ``grid_size`` through the
    engine (noise ``j`` of image ``i``: :func:`..engine.scoring.draw_noise` ``(i, ...)``); the
    error cube and the Bayes classifier's answers."""
    import torch

    from ..engine import DiffusionClassifier, Schedule, ScoringConfig
    from ..engine.replay import ErrorCube
    from ..engine.scoring import draw_noise

    config = ScoringConfig(Schedule.one_stage(grid_size), loss="l2", batch_size=batch_size)
    classifier = DiffusionClassifier(model.predictor(sd_alphas_cumprod()), torch.arange(model.num_classes), config)
    x0, labels = model.sample(num_images)
    errors = np.empty((num_images, model.num_classes, grid_size), dtype=np.float32)
    for i in range(num_images):
        scores = classifier.classify(x0[i], draw_noise(i, grid_size, model.shape))
        errors[i, scores.condition, scores.grid_index] = scores.errors["l2"]
    cube = ErrorCube(np.array([f"{i:05d}" for i in range(num_images)]), labels, errors,
                     np.asarray(config.schedule.grid))
    return cube, model.bayes(x0)


def gpu_hours(passes_per_image: float, images: int = 1000) -> float:
    """GPU hours for ``images`` images at :data:`PAPER_PASSES_PER_SECOND`."""
    return passes_per_image * images / PAPER_PASSES_PER_SECOND / 3600


def class_count_rows(cube: ErrorCube, bayes: np.ndarray, schedule, spec: ClassCountStudySpec) -> list[dict]:
    """One stage, the paper's ``schedule`` and the sequential test at every ``k`` of ``spec``,
    replayed on one class count's cube: one row each."""
    from ..engine.replay import cross_fitted_calibrations, cross_fitted_replay, replay_schedule

    from ..engine import Schedule

    full = cube.num_classes * cube.errors.shape[2]

    def row(strategy: str, predictions: np.ndarray, passes: np.ndarray, **extra) -> dict:
        mean = float(passes.mean())
        return {"strategy": strategy, "passes_per_image": mean, "one_stage_fraction": mean / full,
                "agreement_with_one_stage": 100.0 * float((predictions == one_stage).mean()),
                "accuracy": 100.0 * float((predictions == cube.labels).mean()),
                "bayes_accuracy": 100.0 * float((bayes == cube.labels).mean()),
                "gpu_hours_per_1000_images": gpu_hours(mean), **extra}

    one_stage = replay_schedule(cube, Schedule.one_stage(cube.errors.shape[2])).predictions
    rows = [row("one stage", one_stage, np.full(len(one_stage), full))]
    paper = replay_schedule(cube, schedule)
    rows.append(row("paper schedule", paper.predictions, paper.passes,
                    schedule=f"{'/'.join(map(str, schedule.evaluations))} keep {'/'.join(map(str, schedule.keep))}"))
    start = time.process_time()
    calibrations = cross_fitted_calibrations(cube, spec.calibration_images)
    log.info("%d classes: calibrations (%d x %d) fitted in %.2f CPU s", cube.num_classes, cube.errors.shape[2],
             cube.errors.shape[2], time.process_time() - start)
    for config in spec.configs():
        result = cross_fitted_replay(cube, config, spec.calibration_images, calibrations)
        rows.append(row(f"sequential k={config.k:g}", result.predictions, result.passes,
                        calibration_images=min(spec.calibration_images, len(cube.errors) // 2),
                        calibration_megabytes=calibrations[0].cov.nbytes / 1e6))
    return rows


@dataclass(frozen=True)
class ClassCountResult:
    """The study's table (one row per class count, spread and strategy) and its caption."""

    frame: pd.DataFrame
    caption: str


def class_count_study(spec: ClassCountStudySpec) -> ClassCountResult:
    """Every class count of ``spec`` at every target Bayes accuracy: score, then replay."""
    from ..engine import Schedule

    rows = []
    for entry in spec.schedules:
        schedule = Schedule(tuple(entry["evaluations"]), tuple(entry.get("keep", [1])))
        classes, grid = int(entry["classes"]), len(schedule.grid)
        for target in spec.bayes_accuracy:
            spread = spread_for(classes, target, tuple(spec.shape), spec.seed)
            start = time.process_time()
            cube, bayes = one_stage_cube(GaussianClasses(classes, spread, tuple(spec.shape), spec.seed), grid,
                                         spec.images, spec.batch_size)
            log.info("%d classes, spread %g: %d images scored in %.2f CPU s", classes, spread, spec.images,
                     time.process_time() - start)
            rows += [{"classes": classes, "bayes_target": 100.0 * target, "spread": spread, "images": spec.images,
                      **r} for r in class_count_rows(cube, bayes, schedule, spec)]
    frame = pd.DataFrame(rows)
    return ClassCountResult(frame, _caption(frame, spec))


def _caption(frame: pd.DataFrame, spec: ClassCountStudySpec) -> str:
    """The settings, the largest class count's numbers per strategy, and the projection's source."""
    most = frame[frame["classes"] == frame["classes"].max()]
    parts = []
    for strategy, part in most[most["strategy"] != "one stage"].groupby("strategy", sort=False):
        parts.append(f"{strategy}: {part['one_stage_fraction'].min():.3f}-{part['one_stage_fraction'].max():.3f} of "
                     f"one stage's passes, {part['agreement_with_one_stage'].min():.0f}-"
                     f"{part['agreement_with_one_stage'].max():.0f}% agreement with it")
    return (f"Sequential elimination against the class count (beyond the paper) on a Gaussian class-conditional "
            f"model whose noise prediction is exact ({spec.images} images per class count and spread, spreads "
            "chosen for Bayes accuracies " + "/".join(f"{100 * b:g}" for b in spec.bayes_accuracy) + "%), scored "
            "one stage through the engine on the grid of the paper's adaptive schedule for that class count, then "
            f"replayed with that schedule and with the conditional sequential test (block {spec.block}, each half "
            f"calibrated on {min(spec.calibration_images, spec.images // 2)} images of the other). At {int(most['classes'].iloc[0]):,} "
            "classes: " + "; ".join(parts) + ". The exact model is kinder than a trained network (on the digits' "
            "UNet the test needed 0.07-0.15 of one stage at 10 classes). GPU hours per 1,000 images at "
            f"{SPEED_SOURCE}.")


def plot_class_count(frame: pd.DataFrame, target: str | Path) -> None:
    """Passes (fraction of one stage's) and agreement with one stage against the class count, per strategy;
    one line per target Bayes accuracy (easy to hard: solid to dotted)."""
    fig, (passes_ax, agree_ax) = pyplot().subplots(1, 2, figsize=(9, 3.4))
    styles = dict(zip(sorted(frame["bayes_target"].unique(), reverse=True), ["-", "--", ":", "-."] * 3))
    strategies = [s for s in dict.fromkeys(frame["strategy"]) if s != "one stage"]
    for color, strategy in enumerate(strategies):
        for bayes, part in frame[frame["strategy"] == strategy].groupby("bayes_target"):
            part = part.sort_values("classes")
            label = f"{strategy}, Bayes {bayes:g}%"
            passes_ax.plot(part["classes"], part["one_stage_fraction"], styles[bayes], marker="o", ms=3,
                           c=f"C{color}", label=label)
            agree_ax.plot(part["classes"], part["agreement_with_one_stage"], styles[bayes], marker="o", ms=3,
                          c=f"C{color}", label=label)
    for ax in (passes_ax, agree_ax):
        ax.set_xscale("log")
        ax.set(xlabel="classes")
    passes_ax.set_yscale("log")
    passes_ax.set(ylabel="passes / one stage's", title="Passes per image")
    agree_ax.set(ylabel="agreement with one stage (%)", title="Agreement with one stage")
    agree_ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    save_figure(fig, target)
