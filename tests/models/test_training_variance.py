"""Learned-variance models train with the hybrid loss and load as variance predictors."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from diffusion_classifier.data import ImageTransform, load_dataset, prepare_dataset
from diffusion_classifier.engine.vlb import vlb_terms
from diffusion_classifier.models import load_predictor
from diffusion_classifier.models.training import TrainConfig, hybrid_loss, train_class_conditional


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
    x0 = torch.rand(4, 1, 4, 4, generator=g) * 2 - 1
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([0, 10, 500, 999])
    a = abar[t].float().view(-1, 1, 1, 1)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    output = torch.randn(4, 2, 4, 4, generator=g).requires_grad_(True)
    return output, x0, x_t, noise, t, abar


def test_hybrid_loss_is_l_simple_plus_the_scaled_bound_with_a_stop_gradient_on_the_mean():
    output, x0, x_t, noise, t, abar = batch()
    loss = hybrid_loss(output, x0, x_t, noise, t, abar, vlb_weight=0.001)
    eps, v = output.detach().split(1, dim=1)
    bound = vlb_terms(x0, x_t, eps, v, t, abar, dtype=torch.float32).mean()
    expected = F.mse_loss(eps, noise) + 0.001 * 1000 / math.log(2) * bound
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    eps_grad = output.grad[:, :1]
    # The mean's gradient is L_simple's alone; the bound reaches only the variance channel.
    torch.testing.assert_close(eps_grad, 2 * (eps - noise) / eps.numel())
    assert output.grad[:, 1:].abs().sum() > 0


def test_without_a_variance_the_loss_is_l_simple():
    output, x0, x_t, noise, t, abar = batch()
    plain = output[:, :1].detach()
    assert hybrid_loss(plain, x0, x_t, noise, t, abar, None).item() == pytest.approx(F.mse_loss(plain, noise).item())


def test_a_learned_variance_model_trains_and_loads_as_a_variance_predictor(tmp_path):
    dataset = load_dataset(prepare_dataset("sklearn_digits", tmp_path / "d", image_size=8, max_per_split=10))
    config = TrainConfig(architecture="tiny_unet", steps=3, batch_size=8, log_every=1,
                         architecture_kwargs={"block_out_channels": [8, 16], "learned_variance": True})
    out = train_class_conditional(dataset, ImageTransform(size=8, channels=1), config, tmp_path / "m", "lv")
    predictor = load_predictor("class_conditional", out)
    assert predictor.learns_variance
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["loss"].startswith("hybrid") and math.isfinite(provenance["final_loss"])


def test_training_configs_share_one_base():
    # The step-counted trainings state their shared settings once (StepTraining); each
    # keeps its own defaults, and from_dict still lists every key a section may hold.
    from diffusion_classifier.baselines.contrastive import ContrastiveConfig
    from diffusion_classifier.config import ConfigError, from_dict
    from diffusion_classifier.models.text_training import TextTrainConfig
    from diffusion_classifier.models.training import DiffusionTraining, StepTraining

    assert issubclass(TrainConfig, DiffusionTraining) and issubclass(TextTrainConfig, DiffusionTraining)
    assert issubclass(ContrastiveConfig, StepTraining)
    assert (TrainConfig().steps, TextTrainConfig().steps, ContrastiveConfig().steps) == (1500, 1000, 600)
    assert TextTrainConfig().architecture == "tiny_text_unet" and ContrastiveConfig().learning_rate == 0.002
    with pytest.raises(ConfigError, match="known keys: .*'beta_schedule'.*'seed'.*'text_layers'"):
        from_dict(TextTrainConfig, {"text_layer": 1}, "models.digits_text.train")
