"""The stable_diffusion adapter loads an SD-2-shaped checkpoint and scores through the real stages."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import torch

from diffusion_classifier.artifacts import read_shard
from diffusion_classifier.models import TextConditionalPredictor, load_predictor
from diffusion_classifier.models.loading import CheckpointError
from diffusion_classifier.models.prompt_checks import PromptTableError
from diffusion_classifier.models.prompts import read_prompt_table
from diffusion_classifier.stages.prompts import prepare_prompts
from diffusion_classifier.stages.score import score_shard

from helpers.sd_helpers import IMAGE_SIZE, build_sd_checkpoint, write_rgb_dataset

MODEL = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}
STRATEGY = {"evaluations": [2, 4], "keep": [2, 1], "loss": "l2"}
SCORING = {"device": "cpu", "batch_size": 5, "seed": 3}


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd2")
    return root, build_sd_checkpoint(root)


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    return write_rgb_dataset(tmp_path_factory.mktemp("rgb") / "data")


def test_components_load_and_match_the_reference(sd):
    root, ref = sd
    predictor = load_predictor("stable_diffusion", root)
    assert isinstance(predictor, TextConditionalPredictor) and predictor.max_length == 77
    torch.testing.assert_close(predictor.alphas_cumprod, ref["scheduler"].alphas_cumprod.double())

    prompts = ["a photo of a cat.", "a photo of a dog."]
    table = predictor.encode_prompts(prompts)
    ids = ref["tokenizer"](prompts, padding="max_length", max_length=77, return_tensors="pt").input_ids
    assert table.shape == (2, 77, 32) and ids.shape == (2, 77)
    with torch.no_grad():
        torch.testing.assert_close(table, ref["text_encoder"](ids)[0])
    assert not torch.equal(table[0], table[1])

    images = torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE) * 2 - 1
    latents = predictor.encode(images)
    with torch.no_grad():
        mean = ref["vae"].encode(images).latent_dist.mean
    torch.testing.assert_close(latents, mean * 0.18215)  # the posterior mean, not a sample
    torch.testing.assert_close(predictor.encode(images), latents)

    x_t, t = torch.randn(2, 4, 8, 8), torch.tensor([10, 900])
    with torch.no_grad():
        torch.testing.assert_close(predictor.predict(x_t, t, table).eps,
                                   ref["unet"](x_t, t, encoder_hidden_states=table).sample)


def test_v_prediction_is_converted_to_eps(tmp_path):
    ref = build_sd_checkpoint(tmp_path, prediction_type="v_prediction")
    predictor = TextConditionalPredictor.from_pretrained(tmp_path)
    x_t, t = torch.randn(2, 4, 8, 8), torch.tensor([50, 700])
    cond = predictor.encode_prompts(["a photo of a cat.", "a photo of a dog."])
    abar = ref["scheduler"].alphas_cumprod[t].float().view(-1, 1, 1, 1)
    with torch.no_grad():
        v = ref["unet"](x_t, t, encoder_hidden_states=cond).sample
    torch.testing.assert_close(predictor.predict(x_t, t, cond).eps, abar.sqrt() * v + (1 - abar).sqrt() * x_t)


def test_missing_component_and_uncached_hub_id_are_clear_errors(sd, tmp_path, monkeypatch):
    root, _ = sd
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    shutil.rmtree(broken / "text_encoder")
    with pytest.raises(CheckpointError, match=r"lacks component\(s\) \['text_encoder'\].*huggingface-cli download"):
        load_predictor("stable_diffusion", broken)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(CheckpointError, match="nor in the local Hugging Face cache"):
        load_predictor("stable_diffusion", "stabilityai/stable-diffusion-2-base")


def test_prompt_table_feeds_score_shard_like_encoding_in_place(sd, rgb, tmp_path):
    root, _ = sd
    table_dir = prepare_prompts(rgb, root, MODEL, tmp_path / "prompts", prompt={"template": "a photo of a {}."},
                                scoring=SCORING)
    frame = pd.read_csv(table_dir / "prompts.csv")
    assert list(frame.columns) == ["index", "class_index", "class_name", "template", "prompt"]
    assert frame["prompt"].tolist() == ["a photo of a cat.", "a photo of a dog.", "a photo of a bird."]
    table = read_prompt_table(table_dir)
    assert table.embeddings.shape == (3, 77, 32) and table.provenance["weights_sha256"]

    from_table = score_shard(rgb, root, MODEL, STRATEGY, SCORING, tmp_path / "a", prompts_dir=table_dir)
    in_place = score_shard(rgb, root, MODEL, STRATEGY, SCORING, tmp_path / "b",
                           prompt={"template": "a photo of a {}."})
    a, b = read_shard(from_table), read_shard(in_place)
    pd.testing.assert_frame_equal(a.errors, b.errors)
    assert len(a.images) == 6 and set(a.errors["condition"]) == {0, 1, 2}
    settings = a.provenance["settings"]
    assert settings["transform"] == {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}
    assert settings["prompts"]["templates"] == ["a photo of a {}."]


def test_bad_prompt_input_is_a_clear_error_and_writes_nothing(sd, rgb, tmp_path):
    root, _ = sd
    with pytest.raises(PromptTableError, match="2 prompt class names for 3 dataset classes"):
        prepare_prompts(rgb, root, MODEL, tmp_path / "p", prompt={"template": "a {}", "class_names": ["x", "y"]},
                        scoring=SCORING)
    with pytest.raises(PromptTableError, match="exactly one"):
        prepare_prompts(rgb, root, MODEL, tmp_path / "p", prompt={"template": "a photo"}, scoring=SCORING)
    assert not (tmp_path / "p").exists()
    with pytest.raises(ValueError, match="give the prompt table"):
        score_shard(rgb, root, MODEL, STRATEGY, SCORING, tmp_path / "s")
    with pytest.raises(PromptTableError, match="run the prepare_prompts rule"):
        score_shard(rgb, root, MODEL, STRATEGY, SCORING, tmp_path / "s", prompts_dir=tmp_path / "none")
    assert not (tmp_path / "s").exists()


def test_a_table_from_other_weights_or_classes_is_refused(sd, rgb, tmp_path):
    root, _ = sd
    table_dir = prepare_prompts(rgb, root, MODEL, tmp_path / "prompts", prompt={"template": "a {}"}, scoring=SCORING)
    table = read_prompt_table(table_dir)
    with pytest.raises(PromptTableError, match="encoded by other weights"):
        table.for_classes(["cat", "dog", "bird"], weights_hash="f" * 64)
    with pytest.raises(PromptTableError, match="2 prompts for 3 classes|3 prompts for 2 classes"):
        table.for_classes(["cat", "dog"])
    with pytest.raises(PromptTableError, match="is for class 'cat'"):
        table.for_classes(["dog", "cat", "bird"])


def test_sd_repository_fetches_safetensors_only_and_names_a_damaged_text_encoder(sd, tmp_path, monkeypatch):
    """SD-2-base holds .bin, fp16 and single-file copies beside its safetensors: none is fetched or read."""
    from helpers.hf_cache import FakeHub, truncate

    root, ref = sd
    remote = tmp_path / "remote"
    shutil.copytree(root, remote)
    for folder in ("unet", "vae", "text_encoder"):
        (remote / folder / "diffusion_pytorch_model.bin").write_bytes(b"damaged pickle")
        (remote / folder / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"damaged variant")
    (remote / "512-base-ema.ckpt").write_bytes(b"single-file checkpoint")
    hub = FakeHub({"stabilityai/stable-diffusion-2-base": remote}).install(monkeypatch, tmp_path / "cache")
    predictor = load_predictor("stable_diffusion", "stabilityai/stable-diffusion-2-base")
    assert predictor.weights_hash() == load_predictor("stable_diffusion", root).weights_hash()
    fetched = hub.fetched()
    assert len(hub.calls) == 1 and "tokenizer/vocab.json" in fetched and "text_encoder/model.safetensors" in fetched
    assert not [f for f in fetched if f.endswith((".bin", ".ckpt")) or ".fp16." in f]
    snapshot = next((tmp_path / "cache").glob("models--*/snapshots/*"))
    truncate(snapshot / "text_encoder" / "model.safetensors", keep=0.3)
    with pytest.raises(CheckpointError, match=r"text_encoder/model.safetensors .*truncated or damaged"):
        load_predictor("stable_diffusion", "stabilityai/stable-diffusion-2-base")
