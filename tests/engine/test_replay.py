"""Replaying adaptive schedules on stored one-stage errors equals running them directly."""

import numpy as np
import pandas as pd
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.replay import error_cube, replay_schedule, subset_predictions
from diffusion_classifier.engine import CallablePredictor
from diffusion_classifier.specs import StrategySpec


@pytest.fixture
def noisy_predictor(prototype_predictor, abar):
    """The prototype rule plus a term in x_t, so that errors depend on the noise draw."""
    return CallablePredictor(lambda x_t, t, c: prototype_predictor.fn(x_t, t, c) + 0.3 * x_t, abar)


def run(predictor, x0, schedule, seed):
    config = ScoringConfig(schedule=schedule, loss="l2", batch_size=16)
    return DiffusionClassifier(predictor, torch.arange(6), config).classify(
        x0, draw_noise(seed, schedule.num_noise, tuple(x0.shape)))


def as_store(images):
    """The store's two tables for a list of (image_id, label, ImageScores)."""
    errors = pd.concat([pd.DataFrame({"image_id": i, "condition": s.condition, "grid_index": s.grid_index,
                                      "timestep": s.timestep, "error_l2": s.errors["l2"]})
                        for i, _, s in images])
    return errors, pd.DataFrame({"image_id": [i for i, _, _ in images], "label": [y for _, y, _ in images]})


@pytest.mark.parametrize("evaluations, keep", [((4, 16), (3, 1)), ((2, 5, 16), (4, 2, 1)), ((16,), (1,)),
                                               ((3, 16), (1, 1))])
def test_replay_equals_a_direct_adaptive_run(noisy_predictor, inputs, evaluations, keep):
    stored = [(i, y, run(noisy_predictor, x, Schedule.one_stage(16), seed=n)) for n, (i, y, x) in enumerate(inputs)]
    cube = error_cube(*as_store(stored), "l2", num_classes=6)
    schedule = Schedule(evaluations, keep)
    replayed = replay_schedule(cube, schedule)
    for n, (_, _, x) in enumerate(inputs):
        direct = run(noisy_predictor, x, schedule, seed=n)
        assert replayed.predictions[n] == direct.prediction
        assert [list(k[n]) for k in replayed.kept] == direct.kept
        assert replayed.passes[n] == direct.passes == schedule.passes(6)
    assert list(cube.labels) == [y for _, y, _ in inputs]


def test_subsets_and_explicit_grids(noisy_predictor, inputs):
    spec = StrategySpec(evaluations=[9], timesteps=[0, 500, 900], noises_per_timestep=3)
    schedule = spec.schedule()
    assert schedule.grid == [0, 500, 900] * 3 and schedule.to_dict()["timesteps"] == schedule.grid
    stored = [(i, y, run(noisy_predictor, x, schedule, seed=n)) for n, (i, y, x) in enumerate(inputs)]
    cube = error_cube(*as_store(stored), "l2", num_classes=6)
    np.testing.assert_array_equal(cube.timesteps, schedule.grid)
    # Three noises of t = 500 are three distinct errors (distinct noise draws).
    assert len(np.unique(cube.errors[0, 0, [1, 4, 7]])) == 3
    full = replay_schedule(cube, schedule).predictions
    np.testing.assert_array_equal(full, [s.prediction for _, _, s in stored])
    np.testing.assert_array_equal(subset_predictions(cube, range(9)), full)
    single = subset_predictions(cube, [1])
    np.testing.assert_array_equal(single, cube.errors[:, :, 1].argmin(1))


def test_replay_refuses_other_grids_and_incomplete_runs(noisy_predictor, inputs):
    i, y, x = inputs[0]
    stored = [(i, y, run(noisy_predictor, x, Schedule.one_stage(16), seed=0))]
    cube = error_cube(*as_store(stored), "l2", num_classes=6)
    with pytest.raises(ValueError, match="not the stored grid"):
        replay_schedule(cube, Schedule((5, 20), (2, 1)))
    adaptive = [(i, y, run(noisy_predictor, x, Schedule((4, 16), (2, 1)), seed=0))]
    with pytest.raises(ValueError, match="never evaluated"):
        error_cube(*as_store(adaptive), "l2", num_classes=6)
    with pytest.raises(ValueError, match="no 'vlb' errors"):
        error_cube(*as_store(stored), "vlb", num_classes=6)


def test_explicit_grid_must_match_the_evaluations():
    with pytest.raises(ValueError, match="needs the last evaluations entry to be 6"):
        StrategySpec(evaluations=[5], timesteps=[0, 500], noises_per_timestep=3).schedule()
    with pytest.raises(ValueError, match="outside 0..999"):
        Schedule((2,), timesteps=(0, 1000))


def test_a_class_with_several_candidates_is_predicted_by_its_label():
    """ObjectNet's classes span several ImageNet ids: the cube's class axis holds the candidates,
    and a replayed prediction counts as the label of its best candidate, as score_shard stores it
    (was: the candidate index compared with the label, so Table 5's ObjectNet column refused)."""
    from diffusion_classifier.reporting.timestep_figures import single_timestep_correct

    errors = pd.DataFrame({"image_id": ["a"] * 3, "condition": [0, 1, 2], "grid_index": [0] * 3,
                           "timestep": [500] * 3, "error_l2": [3.0, 1.0, 2.0]})
    images = pd.DataFrame({"image_id": ["a"], "label": [0]})
    cube = error_cube(errors, images, "l2", num_classes=3, candidate_labels=[0, 0, 1])
    best = replay_schedule(cube, Schedule((1,), (1,), 1000, (500,))).predictions
    assert best.tolist() == [1] and cube.label_of(best).tolist() == [0]
    assert single_timestep_correct(cube).all()
