"""Sequential elimination: spread order, the paired test, and replay == direct run."""

from dataclasses import replace

import re
import numpy as np
import pandas as pd
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.replay import ErrorCube, cross_fitted_replay, error_cube, replay_sequential
from diffusion_classifier.engine.sequential import (Calibration, EliminationTest, SequentialConfig, point_blocks,
                                                    spread_order, visit_order)
from diffusion_classifier.engine import CallablePredictor
from diffusion_classifier.specs import StrategySpec


@pytest.fixture
def noisy_predictor(prototype_predictor, abar):
    """The prototype rule plus a term in x_t, so that errors depend on the noise draw."""
    return CallablePredictor(lambda x_t, t, c: prototype_predictor.fn(x_t, t, c) + 0.3 * x_t, abar)


def run(predictor, x0, seed, sequential=None, grid=16, batch_size=16):
    schedule = Schedule.one_stage(grid)
    config = ScoringConfig(schedule=schedule, loss="l2", batch_size=batch_size, extra_objectives=("l1",),
                           sequential=sequential)
    return DiffusionClassifier(predictor, torch.arange(6), config).classify(
        x0, draw_noise(seed, schedule.num_noise, tuple(x0.shape)))


def test_spread_order_is_a_permutation_whose_prefixes_cover_the_grid():
    assert spread_order(8).tolist() == [0, 4, 2, 6, 1, 5, 3, 7]
    order = spread_order(25)
    assert sorted(order.tolist()) == list(range(25))
    assert order[:4].tolist() == [0, 16, 8, 24]
    assert spread_order(1).tolist() == [0]
    blocks = point_blocks(range(25), SequentialConfig(block=4))
    assert [len(b) for b in blocks] == [4] * 6 + [1]
    with pytest.raises(ValueError, match="use block >= 2"):
        point_blocks(range(250), SequentialConfig(block=1))


def test_the_test_drops_a_clearly_worse_class_and_keeps_a_close_one():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=10)  # paired noise: every class sees it
    errors = np.stack([shared, shared + 0.5 + 0.01 * rng.normal(size=10), shared + 0.02 * rng.normal(size=10)])
    test = EliminationTest(3, 10, SequentialConfig(block=5, k=3.0, min_points=5))
    ranked = test.update(errors[:, :5])
    assert test.survivors.tolist() == [0, 2] and sorted(ranked.tolist()) == [0, 2]
    test2 = EliminationTest(3, 10, SequentialConfig(block=2, k=3.0, min_points=5))
    test2.update(errors[:, :2])
    assert test2.survivors.tolist() == [0, 1, 2]  # nothing dropped before min_points


OPTIONS = {"grid": dict(test="grid"), "pool": dict(pool=3.0), "first": dict(first=(0, 400)),
           "all": dict(test="grid", pool=5.0, first=(100, 700))}


@pytest.mark.parametrize("block, k, min_points, options", [(4, 0.5, 4, None), (1, 0.75, 2, None), (3, 1.0, 6, None),
                                                           (16, 2.0, 5, None), (2, 1.0, 2, "grid"),
                                                           (1, 1.0, 2, "pool"), (3, 1.0, 3, "first"),
                                                           (1, 1.5, 2, "all")])
def test_replay_equals_a_direct_sequential_run(noisy_predictor, inputs, block, k, min_points, options):
    seq = SequentialConfig(block=block, k=k, min_points=min_points, **OPTIONS.get(options, {}))
    stored = [(i, y, run(noisy_predictor, x, seed=n)) for n, (i, y, x) in enumerate(inputs)]
    errors = pd.concat([pd.DataFrame({"image_id": i, "condition": s.condition, "grid_index": s.grid_index,
                                      "timestep": s.timestep, "error_l2": s.errors["l2"]})
                        for i, _, s in stored])
    images = pd.DataFrame({"image_id": [i for i, _, _ in inputs], "label": [y for _, y, _ in inputs]})
    replayed = replay_sequential(error_cube(errors, images, "l2", 6), seq)
    pruned = 0
    for n, (_, _, x) in enumerate(inputs):
        # a different batch size packs pairs differently but gives the same errors
        direct = run(noisy_predictor, x, seed=n, sequential=seq, batch_size=7)
        assert replayed.predictions[n] == direct.prediction
        assert replayed.passes[n] == direct.passes == len(direct.condition)
        assert [list(k[n][k[n] >= 0]) for k in replayed.kept[:len(direct.kept)]] == direct.kept
        # every stored pair is the one-stage pair (same noise per grid point), in every objective
        one = stored[n][2]
        ref = {(c, g): e for c, g, e in zip(one.condition, one.grid_index, one.errors["l1"])}
        assert all(ref[(c, g)] == e for c, g, e in zip(direct.condition, direct.grid_index, direct.errors["l1"]))
        assert set(np.unique(direct.stage)) == set(range(len(direct.kept)))
        pruned += direct.passes < 6 * 16
    if block < 16:
        assert pruned > 0  # the test did stop early on some images


def test_sequential_strategy_from_config_and_its_errors():
    spec = StrategySpec(evaluations=[25], sequential={"block": 5, "k": 2.5})
    config = spec.scoring_config(1000, 64)
    assert config.sequential == SequentialConfig(block=5, k=2.5, min_points=5)
    assert config.to_dict()["sequential"] == {"block": 5, "k": 2.5, "min_points": 5}
    assert "sequential" not in StrategySpec(evaluations=[25]).scoring_config(1000, 64).to_dict()
    with pytest.raises(ValueError, match="one-stage grid"):
        StrategySpec(evaluations=[5, 25], keep=[2, 1], sequential={}).scoring_config(1000, 64)
    with pytest.raises(ValueError, match="unknown key"):
        StrategySpec(evaluations=[25], sequential={"blocks": 5}).scoring_config(1000, 64)
    with pytest.raises(ValueError, match="min_points must be >= 2"):
        SequentialConfig(min_points=1)


def test_the_grid_test_is_exact_once_the_grid_is_seen():
    # Differences far too noisy for the mean test to drop anything at k = 50 ...
    rng = np.random.default_rng(1)
    errors = rng.normal(size=(4, 8)) + np.array([[0.0], [0.3], [0.1], [0.2]])
    mean_test = EliminationTest(4, 8, SequentialConfig(block=8, k=50.0, min_points=2))
    mean_test.update(errors)
    assert mean_test.survivors.tolist() == [0, 1, 2, 3]
    # ... but on the whole grid every class with a higher mean has lost: Algorithm 1's answer.
    grid_test = EliminationTest(4, 8, SequentialConfig(block=8, k=50.0, min_points=2, test="grid"))
    grid_test.update(errors)
    assert grid_test.survivors.tolist() == [int(np.argmin(errors.mean(1)))]
    # halfway, the finite remainder shrinks the standard error by sqrt(1 - 4 / 8)
    half = EliminationTest(4, 8, SequentialConfig(block=4, k=1.0, min_points=2, test="grid"))
    leader = int(np.argmin(errors[:, :4].mean(1)))
    diff = errors[:, :4] - errors[leader, :4]
    stderr = diff.std(axis=1, ddof=1) / 2 * np.sqrt(0.5)
    half.update(errors[:, :4])
    expected = [c for c in range(4) if not diff[c].mean() > stderr[c]]
    assert half.survivors.tolist() == expected


def test_pooling_keeps_a_class_whose_own_variance_is_small_by_chance():
    shared = np.array([0.0, 1.0])
    errors = np.stack([shared, shared + np.array([0.10, 0.11]),  # tiny spread by chance: "significant"
                       shared + np.array([0.5, -0.4]), shared + np.array([-0.3, 0.6])])
    alone = EliminationTest(4, 10, SequentialConfig(block=2, k=3.0, min_points=2))
    alone.update(errors)
    assert 1 not in alone.survivors.tolist()
    pooled = EliminationTest(4, 10, SequentialConfig(block=2, k=3.0, min_points=2, pool=5.0))
    pooled.update(errors)
    assert 1 in pooled.survivors.tolist()


def test_first_visits_a_timestep_window_first_and_defaults_keep_the_run_key():
    grid = np.arange(25) * 40 + 20
    order = visit_order(grid, (0, 500))
    assert sorted(order.tolist()) == list(range(25))
    assert set(order[:12].tolist()) == set(np.flatnonzero(grid < 500).tolist())
    assert order[:3].tolist() == [0, 8, 4]  # the spread order's own sequence within the window
    assert visit_order(grid).tolist() == spread_order(25).tolist()
    config = SequentialConfig(block=1, k=2.0, min_points=2, test="grid", pool=5, first=[0, 500])
    assert config.to_dict() == {"block": 1, "k": 2.0, "min_points": 2, "test": "grid", "pool": 5, "first": [0, 500]}
    assert "first" in config.label() and "grid test" in config.label()
    for bad, message in [({"test": "bayes"}, "sequential.test"), ({"pool": -1}, "sequential.pool"),
                         ({"first": [500, 0]}, "sequential.first")]:
        with pytest.raises(ValueError, match=message):
            SequentialConfig(**bad)


# --- test: conditional (a calibration predicts the unseen points) ---------------------------
def test_calibration_fits_the_paired_differences_to_each_images_winner():
    rng = np.random.default_rng(0)
    errors = rng.normal(size=(6, 4, 5)) + np.arange(4)[None, :, None]  # class 0 wins every image
    cal = Calibration.fit(errors, shrink=0.0)
    diff = (errors[:, 1:] - errors[:, :1]).reshape(-1, 5)
    np.testing.assert_allclose(cal.mean, diff.mean(0))
    np.testing.assert_allclose(cal.cov, np.cov(diff, rowvar=False))
    assert cal.images == 6 and cal.grid_size == 5
    ridge = Calibration.fit(errors, shrink=0.5)
    np.testing.assert_allclose(np.diag(ridge.cov), 1.5 * np.diag(cal.cov))
    assert Calibration.from_dict(ridge.to_dict()).to_dict() == ridge.to_dict()
    with pytest.raises(ValueError, match="classes >= 2"):
        Calibration.fit(errors[:, :1])


def test_the_calibrations_order_and_prediction_on_independent_points():
    # independent points: the most variable first, and the unseen points predicted by their means
    cal = Calibration(mean=np.array([0.1, 0.2, 0.3, 0.4]), cov=np.diag([1.0, 4.0, 0.25, 2.0]), images=3)
    assert cal.order.tolist() == [1, 3, 0, 2]
    weights, offset, sd = cal.predictor(2)
    np.testing.assert_allclose(weights, 0.0, atol=1e-12)
    assert offset == pytest.approx(0.1 + 0.3) and sd == pytest.approx(np.sqrt(1.25))
    assert cal.predictor(4) == (pytest.approx(np.zeros(4)), 0.0, 0.0)
    # correlated points: a seen point predicts its unseen twin
    twins = Calibration(mean=np.zeros(2), cov=np.array([[1.0, 0.9], [0.9, 1.0]]), images=3)
    weights, offset, sd = twins.predictor(1)
    assert weights[0] == pytest.approx(0.9) and sd == pytest.approx(np.sqrt(1 - 0.81))
    # points where the classes never differ (zero variance) are visited last and break nothing
    errors = np.random.default_rng(3).normal(size=(5, 3, 5))
    errors[:, :, [1, 3]] = 0.5
    flat = Calibration.fit(errors)
    assert sorted(flat.order[-2:].tolist()) == [1, 3]
    assert all(np.isfinite(flat.predictor(n)[2]) for n in range(6))


def test_the_conditional_test_is_exact_once_the_grid_is_seen_and_tests_from_one_point():
    rng = np.random.default_rng(1)
    errors = rng.normal(size=(4, 8)) + np.array([[0.0], [0.3], [0.1], [0.2]])
    cal = Calibration(mean=np.zeros(8), cov=np.eye(8) * 100.0, images=2)  # far too wide to drop early
    config = SequentialConfig(block=8, k=50.0, min_points=1, test="conditional")
    whole = EliminationTest(4, 8, config, cal)
    whole.update(errors[:, cal.order])
    assert whole.survivors.tolist() == [int(np.argmin(errors.mean(1)))]  # Algorithm 1's answer
    narrow = Calibration(mean=np.zeros(8), cov=np.eye(8) * 1e-6, images=2)
    first = EliminationTest(4, 8, SequentialConfig(block=1, k=3.0, min_points=1, test="conditional"), narrow)
    first.update(errors[:, narrow.order[:1]])
    assert len(first.survivors) == 1  # one point decides when the calibration says the rest is known
    with pytest.raises(ValueError, match="needs a calibration"):
        EliminationTest(4, 8, SequentialConfig(test="conditional", min_points=1))
    with pytest.raises(ValueError, match="covers 8 grid points"):
        EliminationTest(4, 10, SequentialConfig(test="conditional", min_points=1), cal)
    on_grid = Calibration.fit(rng.normal(size=(3, 4, 8)), timesteps=np.arange(8) * 100)
    assert len(point_blocks(np.arange(8) * 100, config, on_grid)) == 1
    with pytest.raises(ValueError, match="fitted on timesteps"):
        point_blocks(np.arange(8) * 100 + 50, config, on_grid)
    for bad, message in [({"min_points": 1}, "min_points must be >= 2"),
                         ({"test": "conditional", "pool": 2.0}, "takes its variances"),
                         ({"test": "conditional", "first": [0, 500]}, "visiting order"),
                         ({"calibration": "c.json"}, "read by test: conditional only")]:
        with pytest.raises(ValueError, match=message):
            SequentialConfig(**bad)


def test_conditional_replay_equals_a_direct_run_with_the_same_calibration_file(noisy_predictor, inputs, tmp_path):
    stored = [(i, y, run(noisy_predictor, x, seed=n)) for n, (i, y, x) in enumerate(inputs)]
    errors = pd.concat([pd.DataFrame({"image_id": i, "condition": s.condition, "grid_index": s.grid_index,
                                      "timestep": s.timestep, "error_l2": s.errors["l2"]})
                        for i, _, s in stored])
    images = pd.DataFrame({"image_id": [i for i, _, _ in inputs], "label": [y for _, y, _ in inputs]})
    cube = error_cube(errors, images, "l2", 6)
    # calibrated on the last six images, tested on the first six
    Calibration.fit(cube.errors[6:]).save(tmp_path / "calibration.json")
    seq = SequentialConfig(block=1, k=1.0, min_points=1, test="conditional",
                           calibration=str(tmp_path / "calibration.json"))
    first = replace(cube, image_ids=cube.image_ids[:6], labels=cube.labels[:6], errors=cube.errors[:6])
    replayed = replay_sequential(first, seq)
    for n, (_, _, x) in enumerate(inputs[:6]):
        direct = run(noisy_predictor, x, seed=n, sequential=seq, batch_size=7)
        assert replayed.predictions[n] == direct.prediction
        assert replayed.passes[n] == direct.passes
        assert [list(k[n][k[n] >= 0]) for k in replayed.kept[:len(direct.kept)]] == direct.kept
    assert (replayed.passes < 6 * 16).any()


def test_cross_fitted_replay_calibrates_each_half_on_the_other():
    rng = np.random.default_rng(2)
    errors = (rng.normal(size=(9, 5, 12)) + rng.normal(size=(9, 1, 12)) * 3).astype(np.float32)
    cube = ErrorCube(np.array([f"i{j}" for j in range(9)]), np.zeros(9, dtype=np.int64), errors, np.arange(12) * 80)
    config = SequentialConfig(block=1, k=1.0, min_points=1, test="conditional")
    result = cross_fitted_replay(cube, config, calibration_images=3)
    even, odd = np.arange(0, 9, 2), np.arange(1, 9, 2)
    for rows, other in ((even, odd), (odd, even)):
        alone = replay_sequential(replace(cube, image_ids=cube.image_ids[rows], labels=cube.labels[rows],
                                          errors=errors[rows]), config, Calibration.fit(errors[other[:3]]))
        assert result.predictions[rows].tolist() == alone.predictions.tolist()
        assert result.passes[rows].tolist() == alone.passes.tolist()


@pytest.mark.parametrize("content, says", [
    ("{\"mean\": [0.1, 0.2], ", "is damaged (not valid JSON"),
    ('{"mean": [0.1, 0.2], "images": 4}', "lacks cov"),
    ('{"mean": [0.1, NaN], "cov": [[1, 0], [0, 1]], "images": 4}', "NaN or infinite"),
    ('{"mean": [0.1, 0.2], "cov": [[1, 0, 0]], "images": 4}', "cov has shape (1, 3), not 2 x 2"),
    ('{"mean": [0.1, 0.2], "cov": [[1, 0], [0, 1]], "images": "4"}', "images is '4'"),
    ('{"mean": ["a", 0.2], "cov": [[1, 0], [0, 1]], "images": 4}', "not a number"),
    ('{"mean": [0.1, 0.2], "cov": [[1, 0], [0, 1]], "images": 4, "timesteps": [1, 2, 3]}', "3 timesteps for 2"),
    ("[1, 2]", "holds a list, not a JSON object"),
])
def test_a_damaged_calibration_file_is_one_error_naming_it(tmp_path, content, says):
    from diffusion_classifier.errors import UserError as CalibrationError

    path = tmp_path / "calibration.json"
    path.write_text(content)
    with pytest.raises(CalibrationError, match=re.escape(says)) as raised:
        Calibration.load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
