"""Training a small text-conditional diffusion model on a captioned corpus.

The embedded default's miniature of Stable Diffusion: a CLIP-architecture text
encoder (a few layers, from scratch) and a UNet2DConditionModel, trained jointly
with the epsilon-prediction objective on the ``train`` split of a captioned corpus
(``captions.csv``; one caption drawn per image and step). The result is saved in
the hub layout of ``stabilityai/stable-diffusion-2-base`` (``unet/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``; no ``vae/``: pixel space), so it
loads through the same ``stable_diffusion`` adapter as the real checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..artifacts.io import atomic_directory, write_json
from ..artifacts.provenance import code_version, config_hash, environment
from ..data.manifest import PreparedDataset
from ..data.pairs import load_captions
from ..data.transforms import ImageTransform
from .architectures import build_architecture
from .training import DiffusionTraining, make_optimizer, noised_batch, optimize, write_train_log
from .tokenizer import caption_words, load_tokenizer, write_word_tokenizer

__all__ = ["TextTrainConfig", "train_text_conditional"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextTrainConfig(DiffusionTraining):
    """How to train one small text-conditional diffusion model (UNet and text encoder).

    Attributes:
        architecture: UNet in the architecture registry (``tiny_text_unet``).
        text_hidden_size: Width of the text encoder (= the UNet's cross-attention width).
        text_layers: Transformer layers of the text encoder.
        text_heads: Attention heads of the text encoder.
        text_intermediate_size: MLP width of the text encoder.
        model_max_length: Tokens every caption is padded to (SD: 77; small here).
        beta_schedule: diffusers beta schedule (``linear``, ``scaled_linear``, ...).
    """

    architecture: str = "tiny_text_unet"
    text_hidden_size: int = 32
    text_layers: int = 2
    text_heads: int = 4
    text_intermediate_size: int = 64
    model_max_length: int = 16
    beta_schedule: str = "linear"


def _corpus(dataset: PreparedDataset, transform: ImageTransform) -> tuple[torch.Tensor, list[int], list[str]]:
    """Images of the train split, and one (image index, caption) entry per caption row."""
    rows = dataset.split("train")
    index = {image_id: k for k, image_id in enumerate(rows["image_id"])}
    captions = load_captions(dataset)
    captions = captions[captions["image_id"].isin(index)]
    if captions.empty:
        raise ValueError(f"{dataset.root}: no image of the train split has a caption in captions.csv")
    images = torch.stack([transform(image) for _, image in dataset.iter_images(rows)])
    return images, [index[i] for i in captions["image_id"]], captions["caption"].tolist()


def _text_encoder(config: TextTrainConfig, tokenizer) -> torch.nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.text_hidden_size,
        intermediate_size=config.text_intermediate_size,
        num_hidden_layers=config.text_layers,
        num_attention_heads=config.text_heads,
        max_position_embeddings=config.model_max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))


def train_text_conditional(
    dataset: PreparedDataset,
    transform: ImageTransform,
    config: TextTrainConfig,
    out_dir: str | Path,
    model_id: str,
) -> Path:
    """Train on ``dataset``'s captioned train split; save the hub layout to ``out_dir``.

    Writes ``unet/``, ``text_encoder/``, ``tokenizer/``, ``scheduler/``,
    ``train_log.csv`` and ``provenance.json``; the folder appears atomically.
    """
    from diffusers import DDPMScheduler

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, caption_image, captions = _corpus(dataset, transform)
    with atomic_directory(out_dir) as tmp:
        write_word_tokenizer(caption_words(captions), tmp / "tokenizer", config.model_max_length)
        tokenizer = load_tokenizer(tmp / "tokenizer")
        ids = tokenizer(captions, padding="max_length", max_length=config.model_max_length, truncation=True,
                        return_tensors="pt").input_ids
        text_encoder = _text_encoder(config, tokenizer)
        unet = build_architecture(config.architecture, cross_attention_dim=config.text_hidden_size,
                                  sample_size=transform.size, in_channels=transform.channels,
                                  **config.architecture_kwargs)
        scheduler = DDPMScheduler(num_train_timesteps=config.num_train_timesteps, beta_start=config.beta_start,
                                  beta_end=config.beta_end, beta_schedule=config.beta_schedule)
        abar = scheduler.alphas_cumprod.to(torch.float32)
        caption_image_t = torch.tensor(caption_image, dtype=torch.long)
        parameters = [*unet.parameters(), *text_encoder.parameters()]
        optimizer, lr_schedule = make_optimizer(parameters, config)

        def step_loss() -> torch.Tensor:
            pick = torch.randint(len(captions), (config.batch_size,), generator=generator)
            x0 = images[caption_image_t[pick]]
            t, noise, x_t = noised_batch(x0, abar, config.num_train_timesteps, generator)
            states = text_encoder(ids[pick])[0]
            return F.mse_loss(unet(x_t, t, encoder_hidden_states=states).sample, noise)

        unet.train()
        text_encoder.train()
        rows, seconds = optimize(step_loss, optimizer, steps=config.steps, log_every=config.log_every,
                                 desc=f"train {model_id}", lr_schedule=lr_schedule)

        unet.eval().save_pretrained(tmp / "unet", safe_serialization=True)
        text_encoder.eval().save_pretrained(tmp / "text_encoder", safe_serialization=True)
        scheduler.save_pretrained(tmp / "scheduler")
        write_train_log(tmp, rows, seconds, Path(out_dir))
        write_json(tmp / "provenance.json", {
            "model_id": model_id,
            "dataset": dataset.name,
            "num_train_images": len(images),
            "num_captions": len(captions),
            "vocabulary": len(tokenizer),
            "train_config": asdict(config),
            "transform": transform.to_dict(),
            "config_hash": config_hash(asdict(config)),
            "parameters": {"unet": sum(p.numel() for p in unet.parameters()),
                           "text_encoder": sum(p.numel() for p in text_encoder.parameters())},
            "final_loss": rows[-1][1] if rows else None,
            "code_version": code_version(),
            "environment": environment(),
        })
    return Path(out_dir)
