"""Hub checkpoints load from a fresh cache: safetensors first, ``.bin`` (weights_only) only where a
repository has nothing else, damaged files named, and DiT's VAE checked (paper Sec. 5.3's DiT-XL/2)."""

from pathlib import Path

import pytest
import torch
from helpers.hf_cache import (DIT_256, FakeHub, save_tiny_dit, tiny_kl_f8_vae, truncate, use_hub_cache,
                              write_hub_snapshot)

from diffusion_classifier.models import load_predictor
from diffusion_classifier.models.class_conditional import DIT_LATENT_SPACE
from diffusion_classifier.models.loading import CheckpointError


@pytest.fixture
def bin_repo(tmp_path):
    """A tiny DiT in facebook/DiT-XL-2-256's layout with only .bin weights."""
    modules = save_tiny_dit(tmp_path / "remote", weights="bin")
    return tmp_path / "remote", modules


def _check_predictions(predictor, modules):
    x_t, t, y = torch.randn(2, 4, 4, 4), torch.tensor([2, 998]), torch.tensor([3, 7])
    with torch.no_grad():
        raw = modules["transformer"](x_t, t, class_labels=y).sample
    prediction = predictor.predict(x_t, t, predictor.conditioning([3, 7]))
    torch.testing.assert_close(prediction.eps, raw[:, :4])
    torch.testing.assert_close(prediction.variance, raw[:, 4:])
    pixels = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        latent = modules["vae"].encode(pixels).latent_dist.mean * 0.18215
    torch.testing.assert_close(predictor.encode(pixels), latent)


def test_bin_only_dit_fetched_into_a_fresh_cache_and_loaded(bin_repo, tmp_path, monkeypatch):
    remote, modules = bin_repo
    hub = FakeHub({DIT_256: remote}).install(monkeypatch, tmp_path / "cache")
    predictor = load_predictor("class_conditional", DIT_256)
    _check_predictions(predictor, modules)
    assert predictor.weights_hash() and predictor.learns_variance and predictor.num_classes == 10
    # safetensors were asked for first; then .bin for exactly the two components that had none.
    assert all("*.bin" not in p for p in hub.calls[0]["allow_patterns"])
    assert sorted(hub.calls[1]["allow_patterns"]) == ["transformer/*.bin", "vae/*.bin"]
    assert "transformer/diffusion_pytorch_model.bin" in hub.fetched()


def test_bin_only_dit_loads_offline_from_the_cache(bin_repo, tmp_path, monkeypatch):
    remote, modules = bin_repo
    write_hub_snapshot(tmp_path / "cache", DIT_256, remote)
    use_hub_cache(monkeypatch, tmp_path / "cache")
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(k.get("weights_only")) or real_load(*a, **k))
    _check_predictions(load_predictor("class_conditional", DIT_256), modules)
    assert loads and all(flag is True for flag in loads)


def test_repository_with_safetensors_never_fetches_or_reads_bin(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    modules = save_tiny_dit(remote, weights="safetensors")
    for component in ("transformer", "vae"):  # a damaged pickle beside every safetensors file
        (remote / component / "diffusion_pytorch_model.bin").write_bytes(b"not a checkpoint")
    hub = FakeHub({DIT_256: remote}).install(monkeypatch, tmp_path / "cache")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load called on a safetensors repository"))
    _check_predictions(load_predictor("class_conditional", DIT_256), modules)
    assert len(hub.calls) == 1 and not [f for f in hub.fetched() if f.endswith(".bin")]
    # and a local folder holding both reads the safetensors
    _check_predictions(load_predictor("class_conditional", remote), modules)


@pytest.mark.parametrize("weights, component", [("bin", "transformer"), ("bin", "vae"),
                                                ("safetensors", "transformer")])
def test_truncated_weights_file_is_a_named_error(tmp_path, monkeypatch, weights, component):
    remote = tmp_path / "remote"
    save_tiny_dit(remote, weights=weights)
    snapshot = write_hub_snapshot(tmp_path / "cache", DIT_256, remote)
    use_hub_cache(monkeypatch, tmp_path / "cache")
    damaged = snapshot / component / f"diffusion_pytorch_model.{weights}"
    truncate(damaged, keep=0.6)
    with pytest.raises(CheckpointError) as info:
        load_predictor("class_conditional", DIT_256)
    message = str(info.value)
    assert str(damaged) in message and "truncated or damaged" in message and "\n" not in message


class _Marker:
    """Unpickling this touches a file: proof that a loader ran pickled code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (Path(self.path),)


def test_bin_holding_pickled_objects_is_refused_unrun(bin_repo, tmp_path):
    remote, _ = bin_repo
    weights = remote / "transformer" / "diffusion_pytorch_model.bin"
    state = torch.load(weights, weights_only=True)
    marker = tmp_path / "code-ran"
    torch.save({**state, "payload": _Marker(marker)}, weights)
    with pytest.raises(CheckpointError, match="diffusion_pytorch_model.bin"):
        load_predictor("class_conditional", remote)
    assert not marker.exists()


def test_missing_weights_file_is_a_named_error(bin_repo):
    remote, _ = bin_repo
    (remote / "vae" / "diffusion_pytorch_model.bin").unlink()
    with pytest.raises(CheckpointError, match=r"vae has no weights file"):
        load_predictor("class_conditional", remote)


@pytest.mark.parametrize("overrides, shown", [({"latent_channels": 8}, "8-channel latents"),
                                              ({"scaling_factor": 0.13025}, "times 0.13025"),
                                              ({"block_out_channels": (8, 8, 8),
                                                "down_block_types": ("DownEncoderBlock2D",) * 3,
                                                "up_block_types": ("UpDecoderBlock2D",) * 3}, "1/4 scale")])
def test_dit_vae_must_be_the_one_dit_was_trained_on(tmp_path, overrides, shown):
    latent_channels = overrides.pop("latent_channels", 4)
    vae = tiny_kl_f8_vae(latent_channels=latent_channels, **overrides)
    save_tiny_dit(tmp_path, weights="safetensors", vae=vae)
    with pytest.raises(CheckpointError, match=rf"vae/config.json: .*{shown}.*{DIT_LATENT_SPACE.source}"):
        load_predictor("class_conditional", tmp_path)


def test_adapter_detection_fetches_configs_only(bin_repo, tmp_path, monkeypatch):
    from diffusion_classifier.classify import detect_adapter

    remote, _ = bin_repo
    hub = FakeHub({DIT_256: remote}).install(monkeypatch, tmp_path / "cache")
    assert detect_adapter(DIT_256) == "class_conditional"
    assert "transformer/config.json" in hub.fetched()
    assert not [f for f in hub.fetched() if f.endswith((".bin", ".safetensors"))]
