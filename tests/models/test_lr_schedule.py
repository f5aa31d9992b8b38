"""The training configs' learning-rate schedule (diffusers' get_scheduler) and its errors."""

import itertools

import pytest
import torch

from diffusion_classifier.data import ImageTransform, load_dataset, prepare_dataset
from diffusion_classifier.models.text_training import TextTrainConfig
from diffusion_classifier.models.training import (
    TrainConfig,
    make_optimizer,
    optimize,
    train_class_conditional,
)


def _rates(config, steps):
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer, schedule = make_optimizer([weight], config)
    rates = []

    def step_loss():
        rates.append(optimizer.param_groups[0]["lr"])
        return (weight - 1).pow(2).sum()

    optimize(step_loss, optimizer, steps=steps, log_every=steps, desc="test", lr_schedule=schedule)
    return rates


def test_the_default_is_the_constant_rate_of_before():
    assert _rates(TrainConfig(steps=5, learning_rate=0.01), 5) == [0.01] * 5


@pytest.mark.parametrize("config_cls", [TrainConfig, TextTrainConfig])
def test_cosine_warms_up_then_decays_towards_zero(config_cls):
    rates = _rates(config_cls(steps=20, learning_rate=0.01, lr_schedule="cosine", warmup_steps=4), 20)
    assert rates[0] == 0 and rates[4] == pytest.approx(0.01)
    assert all(a >= b for a, b in itertools.pairwise(rates[4:])) and rates[-1] < 0.001


def test_an_unknown_schedule_names_the_valid_ones():
    with pytest.raises(ValueError, match="lr_schedule 'cosinus'.*cosine"):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], TrainConfig(lr_schedule="cosinus"))


def test_training_with_a_schedule_records_it_in_the_provenance(tmp_path):
    dataset = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "d", image_size=8, max_per_split=10))
    config = TrainConfig(steps=3, batch_size=8, log_every=1, lr_schedule="cosine", warmup_steps=1,
                         architecture_kwargs={"block_out_channels": [8, 16]})
    out = train_class_conditional(dataset, ImageTransform(size=8, channels=1), config, tmp_path / "m", "lr")
    assert '"lr_schedule": "cosine"' in (out / "provenance.json").read_text()
