"""A tiny, random-weight Stable-Diffusion-2-shaped checkpoint, built offline under a fixed seed.

Mirrors diffusers' ``get_dummy_components`` (2-block UNet2DConditionModel with
cross-attention width 32, 2-block AutoencoderKL, 2-layer CLIPTextModel) and SD
2.0-base's hub layout and scheduler (scaled_linear betas 0.00085..0.012); the
tokenizer is a small vocab.json + merges.txt written into the checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from diffusion_classifier.artifacts import file_sha256
from diffusion_classifier.data import write_dataset
from diffusion_classifier.models.tokenizer import caption_words, load_tokenizer, write_word_tokenizer

WORDS = caption_words(["a photo of a cat.", "a photo of a dog.", "a photo of a bird.", "a blurry photo of a {}",
                       "there is a mug in some grass", "a person sits and a dog stands", "it's a truck fire"])
IMAGE_SIZE = 16  # -> 8x8 latents through the 2-block VAE


def build_sd_checkpoint(root: Path, prediction_type: str = "epsilon", with_vae: bool = True) -> dict:
    """Save tokenizer, text encoder, UNet, (VAE) and scheduler in the hub layout; return the modules."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    write_word_tokenizer(WORDS, root / "tokenizer", model_max_length=77)
    tokenizer = load_tokenizer(root / "tokenizer")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=IMAGE_SIZE // 2,
        in_channels=4 if with_vae else 3, out_channels=4 if with_vae else 3,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4), use_linear_projection=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, sample_size=IMAGE_SIZE,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, layer_norm_eps=1e-5, hidden_act="gelu",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              num_train_timesteps=1000, skip_prk_steps=True, prediction_type=prediction_type)
    unet.save_pretrained(root / "unet")
    text_encoder.save_pretrained(root / "text_encoder")
    if with_vae:
        vae.save_pretrained(root / "vae")
    scheduler.save_pretrained(root / "scheduler")
    return {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": text_encoder.eval(), "tokenizer": tokenizer,
            "scheduler": scheduler}


def write_rgb_dataset(root: Path, classes=("cat", "dog", "bird"), per_class: int = 2) -> Path:
    """A few random RGB images of odd sizes (so resize + center crop do work) in the manifest format."""
    rng = np.random.default_rng(0)
    rows = []
    (root / "images").mkdir(parents=True, exist_ok=True)
    for label in range(len(classes)):
        for k in range(per_class):
            image_id = f"img-{label}-{k}"
            array = rng.integers(0, 256, size=(20 + 3 * k, 24, 3), dtype=np.uint8)
            Image.fromarray(array, mode="RGB").save(root / "images" / f"{image_id}.png")
            rows.append({"image_id": image_id, "path": f"images/{image_id}.png", "label": label, "split": "test",
                         "orig_width": 24, "orig_height": 20 + 3 * k,
                         "sha256": file_sha256(root / "images" / f"{image_id}.png")})
    return write_dataset(root, pd.DataFrame(rows), list(classes), {"name": "tiny_rgb"})
