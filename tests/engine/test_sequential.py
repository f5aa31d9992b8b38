"""Sequential elimination: spread order, the paired test, and replay == direct run."""

import numpy as np
import pandas as pd
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.replay import error_cube, replay_sequential
from diffusion_classifier.engine.sequential import EliminationTest, SequentialConfig, point_blocks, spread_order
from diffusion_classifier.models import CallablePredictor
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
    blocks = point_blocks(25, SequentialConfig(block=4))
    assert [len(b) for b in blocks] == [4] * 6 + [1]
    with pytest.raises(ValueError, match="use block >= 2"):
        point_blocks(250, SequentialConfig(block=1))


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


@pytest.mark.parametrize("block, k, min_points", [(4, 0.5, 4), (1, 0.75, 2), (3, 1.0, 6), (16, 2.0, 5)])
def test_replay_equals_a_direct_sequential_run(noisy_predictor, inputs, block, k, min_points):
    seq = SequentialConfig(block=block, k=k, min_points=min_points)
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
