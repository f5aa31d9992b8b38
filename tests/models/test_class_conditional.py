"""Class-conditional adapters load saved checkpoints exactly like hub checkpoints."""

import pytest
import torch
from diffusers import DDPMScheduler

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.models import ClassConditionalPredictor, load_predictor
from diffusion_classifier.models.architectures import build_architecture
from diffusion_classifier.models.loading import CheckpointError


def save_checkpoint(root, architecture, **kwargs):
    torch.manual_seed(0)
    network = build_architecture(architecture, num_classes=5, sample_size=8, in_channels=1, **kwargs)
    subfolder = "transformer" if architecture == "tiny_dit" else "unet"
    network.save_pretrained(root / subfolder)
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(root / "scheduler")
    return network.eval()


@pytest.mark.parametrize("architecture, learned", [("tiny_unet", False), ("tiny_unet", True), ("tiny_dit", True)])
def test_round_trip_and_variance_split(tmp_path, architecture, learned):
    network = save_checkpoint(tmp_path, architecture, learned_variance=learned)
    predictor = load_predictor("class_conditional", tmp_path)
    assert predictor.learns_variance is learned
    assert predictor.weights_hash() and len(predictor.weights_hash()) == 64
    x_t, t = torch.randn(3, 1, 8, 8), torch.tensor([1, 500, 999])
    labels = predictor.conditioning([0, 3, 4])
    prediction = predictor.predict(x_t, t, labels)
    with torch.no_grad():
        raw = network(x_t, t, class_labels=labels).sample
    torch.testing.assert_close(prediction.eps, raw[:, :1])
    if learned:
        torch.testing.assert_close(prediction.variance, raw[:, 1:])
    else:
        assert prediction.variance is None


def test_dit_scores_in_eval_mode(tmp_path):
    # In train mode DiT drops labels at random: two identical calls would differ.
    save_checkpoint(tmp_path, "tiny_dit")
    predictor = ClassConditionalPredictor.from_pretrained(tmp_path)
    config = ScoringConfig(Schedule.one_stage(4), batch_size=7)
    classifier = DiffusionClassifier(predictor, predictor.conditioning(range(5)), config)
    noise = draw_noise(0, 4, (1, 8, 8))
    first, second = classifier.classify(torch.zeros(1, 8, 8), noise), classifier.classify(torch.zeros(1, 8, 8), noise)
    assert (first.errors["l2"] == second.errors["l2"]).all()


def test_bad_conditions_and_channels_are_clear_errors(tmp_path):
    save_checkpoint(tmp_path, "tiny_unet")
    predictor = ClassConditionalPredictor.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="outside the 5 classes"):
        predictor.conditioning([0, 7])
    with pytest.raises(ValueError, match="class list is empty"):
        predictor.conditioning([])
    with pytest.raises(ValueError, match="takes 1-channel images, got 3"):
        predictor.encode(torch.zeros(1, 3, 8, 8))


def test_missing_checkpoint_says_how_to_get_it(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist .it looks like a local path"):
        ClassConditionalPredictor.from_pretrained(tmp_path / "results/models/none")
    (tmp_path / "unet").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        ClassConditionalPredictor.from_pretrained(tmp_path)


def test_unknown_adapter_and_architecture():
    with pytest.raises(ValueError, match="unknown model adapter 'nope'; known: .*class_conditional"):
        load_predictor("nope", "x")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_architecture("nope", num_classes=2)


def test_latent_model_encodes_the_vae_posterior_mean(tmp_path):
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=1, block_out_channels=(8, 8),
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, scaling_factor=0.5).eval()
    vae.save_pretrained(tmp_path / "vae")
    save_checkpoint(tmp_path, "tiny_unet")  # 1 latent channel, 8x8 latents
    predictor = ClassConditionalPredictor.from_pretrained(tmp_path)
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    latents = predictor.encode(images)
    with torch.no_grad():
        expected = vae.encode(images).latent_dist.mean * 0.5
    assert latents.shape == (2, 1, 8, 8)
    torch.testing.assert_close(latents, expected)
    again = predictor.encode(images)  # the mean, not a sample: deterministic
    torch.testing.assert_close(latents, again)
