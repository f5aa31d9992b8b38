"""The class-count study: its closed-form model goes through the engine unchanged, its replays
are the decisions a direct run makes, and its table reaches 1,000 classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig
from diffusion_classifier.engine.replay import cross_fitted_calibrations, cross_fitted_replay, replay_schedule
from diffusion_classifier.engine.scoring import draw_noise
from diffusion_classifier.engine.sequential import SequentialConfig
from diffusion_classifier.reporting.class_count_study import (GaussianClasses, class_count_study, gpu_hours,
                                                               one_stage_cube, sd_alphas_cumprod)
from diffusion_classifier.specs import ClassCountStudySpec, from_dict

SHAPE = (1, 2, 2)


def test_the_engines_error_is_the_closed_form_error():
    model = GaussianClasses(num_classes=3, spread=0.7, shape=SHAPE, seed=0)
    cube, _ = one_stage_cube(model, grid_size=5, num_images=2, batch_size=7)
    abar = sd_alphas_cumprod()
    x0, _ = model.sample(2)
    t = torch.as_tensor(cube.timesteps)
    a, b = abar[t].sqrt(), (1 - abar[t]).sqrt()
    for i in range(2):
        eps = draw_noise(i, 5, SHAPE).double()
        x_t = a.view(-1, 1, 1, 1) * x0[i].double() + b.view(-1, 1, 1, 1) * eps
        s2 = model.spread ** 2
        for c in range(3):
            mu = model.means[c].double()
            eps_hat = b.view(-1, 1, 1, 1) * (x_t - a.view(-1, 1, 1, 1) * mu) / (
                a.view(-1, 1, 1, 1) ** 2 * s2 + b.view(-1, 1, 1, 1) ** 2)
            expected = ((eps_hat - eps) ** 2).flatten(1).mean(1).numpy()
            np.testing.assert_allclose(cube.errors[i, c], expected, rtol=1e-4, atol=1e-6)


def test_the_noise_prediction_is_the_posterior_mean():
    """For the true class the prediction's mean squared error per pixel is a^2 s^2 / (a^2 s^2 + b^2)
    (the posterior variance of the noise), below the error of predicting zero (1)."""
    model = GaussianClasses(num_classes=2, spread=0.5, shape=(1, 16, 16), seed=0)
    abar = sd_alphas_cumprod()
    fn = model.noise_prediction(abar)
    generator = torch.Generator().manual_seed(3)
    n, t = 2000, 400
    labels = torch.zeros(n, dtype=torch.long)
    x0 = model.means[labels] + model.spread * torch.randn((n, 1, 16, 16), generator=generator)
    eps = torch.randn((n, 1, 16, 16), generator=generator)
    a2, b2 = float(abar[t]), float(1 - abar[t])
    x_t = a2 ** 0.5 * x0 + b2 ** 0.5 * eps
    error = float(((fn(x_t, torch.full((n,), t), labels) - eps) ** 2).mean())
    s2 = model.spread ** 2
    assert error == pytest.approx(a2 * s2 / (a2 * s2 + b2), rel=0.02)


def _direct(model: GaussianClasses, config: ScoringConfig, image: int, x0: torch.Tensor):
    classifier = DiffusionClassifier(model.predictor(sd_alphas_cumprod()), torch.arange(model.num_classes), config)
    return classifier.classify(x0[image], draw_noise(image, len(config.schedule.grid), model.shape))


def test_the_studys_replays_are_the_engines_direct_runs(tmp_path):
    model = GaussianClasses(num_classes=6, spread=1.2, shape=SHAPE, seed=1)
    images, grid = 6, 8
    cube, _ = one_stage_cube(model, grid, images, batch_size=16)
    x0, _ = model.sample(images)

    schedule = Schedule((2, grid), (3, 1))
    replayed = replay_schedule(cube, schedule)
    for i in range(images):
        direct = _direct(model, ScoringConfig(schedule, loss="l2", batch_size=16), i, x0)
        assert direct.prediction == replayed.predictions[i]
        assert len(direct.condition) == replayed.passes[i]

    calibrations = cross_fitted_calibrations(cube, calibration_images=3)
    config = SequentialConfig(block=2, k=1.0, min_points=1, test="conditional")
    sequential = cross_fitted_replay(cube, config, 3, calibrations)
    assert sequential.passes.min() < cube.num_classes * grid  # some class was dropped early
    for half, calibration in enumerate(calibrations):
        path = tmp_path / f"calibration-{half}.json"
        calibration.save(path)
        direct_config = SequentialConfig(block=2, k=1.0, min_points=1, test="conditional", calibration=str(path))
        for i in range(half, images, 2):
            direct = _direct(model, ScoringConfig(Schedule.one_stage(grid), loss="l2", batch_size=16,
                                                  sequential=direct_config), i, x0)
            assert direct.prediction == sequential.predictions[i]
            assert len(direct.condition) == sequential.passes[i]
    # Calibrations fitted once for several k replay exactly as when each replay fits its own.
    again = cross_fitted_replay(cube, config, 3)
    assert np.array_equal(again.predictions, sequential.predictions)
    assert np.array_equal(again.passes, sequential.passes)


def test_the_table_reaches_1000_classes():
    spec = from_dict(ClassCountStudySpec, {
        "schedules": [{"classes": 10, "evaluations": [2, 4], "keep": [3, 1]},
                      {"classes": 1000, "evaluations": [2, 4], "keep": [10, 1]}],
        "bayes_accuracy": [0.7], "images": 4, "k": [3], "block": 2, "shape": list(SHAPE)}, "test")
    result = class_count_study(spec)
    frame = result.frame
    thousand = frame[frame["classes"] == 1000].set_index("strategy")
    assert list(thousand.index) == ["one stage", "paper schedule", "sequential k=3"]
    assert thousand.loc["one stage", "passes_per_image"] == 4000
    assert thousand.loc["paper schedule", "passes_per_image"] == 1000 * 2 + 10 * 2
    assert thousand.loc["paper schedule", "one_stage_fraction"] == pytest.approx(2020 / 4000)
    assert 0 <= thousand.loc["sequential k=3", "agreement_with_one_stage"] <= 100
    assert thousand.loc["one stage", "gpu_hours_per_1000_images"] == pytest.approx(gpu_hours(4000))
    assert "At 1,000 classes: paper schedule: 0.505-0.505 of one stage's passes" in result.caption
    assert "18 s on an RTX 3090" in result.caption


def test_the_projection_uses_the_papers_speed():
    # Sec. 4.2: 2,050 passes of a Pets image in 18 s, so 2,050 x 1,000 passes take 5 hours.
    assert gpu_hours(2050) == pytest.approx(5.0)
