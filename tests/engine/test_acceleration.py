"""GPU speed switches: off changes nothing; on (where a CPU runs them) gives close errors."""

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.acceleration import Acceleration, pad_rows
from diffusion_classifier.engine import CallablePredictor
from diffusion_classifier.specs import ScoringSpec, StrategySpec, from_dict


@pytest.fixture
def conv_predictor(abar):
    """A small convolutional network, so that layout and autocast actually act on it."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(8, 1, 3, padding=1))
    emb = torch.nn.Embedding(6, 1)

    class Net(CallablePredictor):
        def __init__(self):
            super().__init__(lambda x_t, t, c: net(x_t) + emb(c).view(-1, 1, 1, 1) + 1e-3 * t.view(-1, 1, 1, 1), abar)
            self.net, self.emb = net, emb

    return Net()


def errors(predictor, acceleration=Acceleration(), batch_size=7, schedule=Schedule((4, 12), (3, 1))):
    config = ScoringConfig(schedule=schedule, loss="l2", extra_objectives=("l1",), batch_size=batch_size,
                           acceleration=acceleration)
    x0 = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(1))
    return DiffusionClassifier(predictor, torch.arange(6), config).classify(
        x0, draw_noise(3, schedule.num_noise, tuple(x0.shape)))


def test_options_off_are_the_default_and_leave_the_config_record_unchanged(conv_predictor):
    config = ScoringConfig(schedule=Schedule.one_stage(4))
    assert config.acceleration.is_default and "acceleration" not in config.to_dict()
    a, b = errors(conv_predictor), errors(conv_predictor, Acceleration(autocast="none"))
    assert np.array_equal(a.errors["l2"], b.errors["l2"]) and a.kept == b.kept
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark)
    errors(conv_predictor)
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark) == flags


@pytest.mark.parametrize("options, rtol", [({"pad_batches": True}, 1e-5), ({"channels_last": True}, 1e-5),
                                           ({"autocast": "bfloat16"}, 5e-2)])
def test_options_on_give_close_errors_and_the_same_pairs(conv_predictor, options, rtol):
    base = errors(conv_predictor)
    fast = errors(conv_predictor, Acceleration(**options))
    assert np.array_equal(base.condition, fast.condition) and np.array_equal(base.grid_index, fast.grid_index)
    for name in ("l2", "l1"):
        np.testing.assert_allclose(fast.errors[name], base.errors[name], rtol=rtol, atol=rtol * 1e-2)
    assert len(fast.errors["l2"]) == base.passes  # padded rows never reach the errors
    if "autocast" not in options:
        assert fast.prediction == base.prediction


def test_padding_feeds_the_network_one_shape(conv_predictor):
    shapes = []
    original = conv_predictor.fn
    conv_predictor.fn = lambda x_t, t, c: shapes.append(len(x_t)) or original(x_t, t, c)
    errors(conv_predictor, Acceleration(pad_batches=True), batch_size=7)
    assert set(shapes) == {7}
    shapes.clear()
    errors(conv_predictor, batch_size=7)
    assert len(set(shapes)) > 1
    assert pad_rows(torch.arange(3), 5).tolist() == [0, 1, 2, 2, 2]


def test_config_keys_and_errors():
    spec = from_dict(ScoringSpec, {"acceleration": {"autocast": "bfloat16", "tf32": True}}, "scoring")
    config = StrategySpec(evaluations=[4]).scoring_config(1000, 8, spec.accelerations)
    assert config.to_dict()["acceleration"]["autocast"] == "bfloat16"
    with pytest.raises(ValueError, match="autocast must be one of"):
        Acceleration(autocast="fp8")
    with pytest.raises(ValueError, match="scoring.acceleration: unknown key"):
        from_dict(ScoringSpec, {"acceleration": {"tf23": True}}, "scoring").accelerations
