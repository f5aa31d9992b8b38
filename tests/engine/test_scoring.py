"""The batched engine against predictors whose errors are known in closed form."""

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise, image_seed
from diffusion_classifier.engine import CallablePredictor


def classify(predictor, x0, schedule, loss="l2", batch_size=64, seed=0, num_classes=6):
    config = ScoringConfig(schedule=schedule, loss=loss, batch_size=batch_size)
    classifier = DiffusionClassifier(predictor, torch.arange(num_classes), config)
    return classifier.classify(x0, draw_noise(seed, schedule.num_noise, tuple(x0.shape)))


def test_errors_match_the_closed_form_and_pick_the_nearest_prototype(prototype_predictor, prototypes, abar):
    x0 = prototypes[3] + 0.3 * torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(1))
    scores = classify(prototype_predictor, x0, Schedule.one_stage(20))
    ratio = (abar / (1 - abar)).float().numpy()
    distance = ((x0 - prototypes) ** 2).flatten(1).mean(1).numpy()
    expected = ratio[scores.timestep] * distance[scores.condition]
    np.testing.assert_allclose(scores.errors["l2"], expected, rtol=1e-4, atol=1e-6)
    assert scores.prediction == int(np.argmin(distance)) == 3
    assert scores.passes == 6 * 20


def test_noise_is_paired_across_classes(abar):
    # A predictor that always says zero has error mean(eps^2): equal across classes iff the noise is shared.
    zero = CallablePredictor(lambda x_t, t, c: torch.zeros_like(x_t), abar)
    scores = classify(zero, torch.zeros(1, 4, 4), Schedule.one_stage(10))
    table = scores.errors["l2"].reshape(6, 10)
    np.testing.assert_array_equal(table, np.broadcast_to(table[0], table.shape))
    assert len(np.unique(table[0])) == 10  # and differs across timesteps


def test_adaptive_keeps_exactly_the_lowest_running_means(prototype_predictor, prototypes):
    x0 = prototypes[0] * 0.6 + prototypes[1] * 0.4
    schedule = Schedule((4, 16), (3, 1))
    scores = classify(prototype_predictor, x0, schedule)
    first = scores.stage == 0
    means = np.array([scores.errors["l2"][first & (scores.condition == c)].mean() for c in range(6)])
    assert scores.kept[0] == list(np.argsort(means, kind="stable")[:3])
    later = scores.stage == 1
    assert set(np.unique(scores.condition[later])) == set(scores.kept[0])
    running = {c: scores.errors["l2"][scores.condition == c].mean() for c in scores.kept[0]}
    assert scores.prediction == min(running, key=running.get)
    assert scores.passes == schedule.passes(6) == 6 * 4 + 3 * 12


def test_adaptive_run_replays_the_one_stage_errors(prototype_predictor, prototypes):
    # Noise j belongs to grid point j, so an adaptive run evaluates a subset of the
    # one-stage pairs on the same grid, with identical errors.
    x0 = prototypes[2] + 0.5
    full = classify(prototype_predictor, x0, Schedule.one_stage(16))
    adaptive = classify(prototype_predictor, x0, Schedule((4, 16), (2, 1)))
    lookup = {(c, g): e for c, g, e in zip(full.condition, full.grid_index, full.errors["l2"])}
    replayed = [lookup[(c, g)] for c, g in zip(adaptive.condition, adaptive.grid_index)]
    np.testing.assert_allclose(adaptive.errors["l2"], replayed, rtol=1e-6)


@pytest.mark.parametrize("loss", ["l2", "l1", "huber"])
def test_batch_size_does_not_change_the_result(prototype_predictor, prototypes, loss):
    x0 = prototypes[4]
    small = classify(prototype_predictor, x0, Schedule((5, 10), (2, 1)), loss=loss, batch_size=1)
    large = classify(prototype_predictor, x0, Schedule((5, 10), (2, 1)), loss=loss, batch_size=1000)
    np.testing.assert_allclose(small.errors[loss], large.errors[loss], rtol=1e-5)
    assert small.kept == large.kept and small.prediction == large.prediction == 4


def test_l1_and_l2_differ_as_defined(abar):
    constant = CallablePredictor(lambda x_t, t, c: torch.full_like(x_t, 2.0) * (c.view(-1, 1, 1, 1) + 1), abar)
    config = ScoringConfig(Schedule.one_stage(3), loss="l1", extra_objectives=("l2",))
    noise = torch.zeros(3, 1, 2, 2)
    scores = DiffusionClassifier(constant, torch.arange(2), config).classify(torch.zeros(1, 2, 2), noise)
    np.testing.assert_allclose(scores.errors["l1"], [2, 2, 2, 4, 4, 4])
    np.testing.assert_allclose(scores.errors["l2"], [4, 4, 4, 16, 16, 16])


def test_noise_is_reproducible_and_image_specific():
    a = draw_noise(image_seed(0, "img-1"), 5, (1, 4, 4))
    assert torch.equal(a, draw_noise(image_seed(0, "img-1"), 5, (1, 4, 4)))
    assert not torch.equal(a, draw_noise(image_seed(0, "img-2"), 5, (1, 4, 4)))
    assert not torch.equal(a, draw_noise(image_seed(1, "img-1"), 5, (1, 4, 4)))


def test_bad_inputs_are_clear_errors(prototype_predictor):
    config = ScoringConfig(Schedule.one_stage(4))
    with pytest.raises(ValueError, match="class list is empty"):
        DiffusionClassifier(prototype_predictor, torch.arange(0), config)
    with pytest.raises(ValueError, match="unknown loss"):
        ScoringConfig(Schedule.one_stage(4), loss="l3")
    with pytest.raises(ValueError, match="training timesteps"):
        DiffusionClassifier(prototype_predictor, torch.arange(6), ScoringConfig(Schedule((4,), (1,), 500)))
    classifier = DiffusionClassifier(prototype_predictor, torch.arange(6), config)
    with pytest.raises(ValueError, match="noise has shape"):
        classifier.classify(torch.zeros(1, 4, 4), torch.zeros(3, 1, 4, 4))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_errors_are_refused_naming_stage_timestep_and_class(prototype_predictor, prototypes, abar, bad):
    # Class 4 overflows (fp16-style) at the second stage's timesteps only.
    from diffusion_classifier.engine import NonFiniteErrorsError

    schedule = Schedule((2, 8), (6, 1))
    late = set(schedule.stages[1].timesteps)

    def overflowing(x_t, t, cond):
        eps = prototype_predictor.fn(x_t, t, cond)
        broken = (cond == 4) & torch.tensor([int(s) in late for s in t])
        return torch.where(broken.view(-1, 1, 1, 1), torch.full_like(eps, bad), eps)

    predictor = CallablePredictor(overflowing, abar)
    first = min(late)
    with pytest.raises(NonFiniteErrorsError, match=rf"stage 1, timestep {first}, class 4 \({len(late)} of {6 * len(late)} pairs"):
        classify(predictor, prototypes[0], schedule)
