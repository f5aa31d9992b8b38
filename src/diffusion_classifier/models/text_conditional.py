"""Adapter for text-conditional latent diffusion: the Stable Diffusion 2.0 code path.

A checkpoint is a diffusers folder (or hub id) in the layout of
``stabilityai/stable-diffusion-2-base``::

    unet/          UNet2DConditionModel        (required)
    text_encoder/  CLIPTextModel               (required)
    tokenizer/     CLIPTokenizer files         (required)
    scheduler/     the training noise schedule (required; only alphas_cumprod is used)
    vae/           AutoencoderKL               (optional: absent for pixel-space models)

The tiny models the pipeline trains itself are saved in the same layout (without
``vae/``), so the embedded default and the paper-scale run load through one path.

Prompts are tokenized with padding to ``tokenizer.model_max_length`` (77 for SD)
and encoded once into a conditioning table of ``[num_prompts, length, width]``
hidden states, exactly as diffusers' pipeline encodes a prompt (last hidden state,
the attention mask only where the text encoder's config asks for it). Images are
encoded as every diffusers adapter encodes them (:class:`.diffusers_adapter.DiffusersPredictor`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..engine.predictor import NoisePrediction
from .diffusers_adapter import DiffusersPredictor
from .loading import (CheckpointError, load_component, load_scheduler, place_frozen, read_weights,
                      resolve_checkpoint, weights_sha256)
from .tokenizer import TOKENIZER_FILES, load_tokenizer

__all__ = ["TextConditionalPredictor", "REQUIRED_COMPONENTS", "check_components"]

log = logging.getLogger(__name__)

REQUIRED_COMPONENTS = ("unet", "text_encoder", "tokenizer", "scheduler")

# The network's output -> eps, given (output, x_t, sqrt(abar), sqrt(1 - abar)).
_TO_EPS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "epsilon": lambda out, x_t, a, s: out,
    # v = a * eps - s * x0 and x_t = a * x0 + s * eps  =>  eps = a * v + s * x_t
    "v_prediction": lambda out, x_t, a, s: a * out + s * x_t,
    # x0-prediction: eps = (x_t - a * x0) / s
    "sample": lambda out, x_t, a, s: (x_t - a * out) / s,
}


def check_components(root: Path, name: str) -> None:
    """Fail before loading anything if a required component folder or tokenizer file is missing."""
    missing = [c for c in REQUIRED_COMPONENTS if not (root / c).is_dir()]
    if missing:
        raise CheckpointError(
            f"checkpoint {name!r} ({root}) lacks component(s) {missing}: a text-conditional model "
            f"needs {list(REQUIRED_COMPONENTS)} (+ vae/ for latent models), the layout of "
            "stabilityai/stable-diffusion-2-base. Download the whole repository "
            f"(`huggingface-cli download {name}`) or train it again."
        )
    missing = [root / "tokenizer" / f for f in TOKENIZER_FILES if not (root / "tokenizer" / f).is_file()]
    if missing:
        raise CheckpointError(f"tokenizer file(s) {', '.join(map(str, missing))} missing: checkpoint {name!r} is "
                              "incomplete; download its tokenizer/ folder again")


def _load_text_encoder(root: Path, dtype: torch.dtype) -> torch.nn.Module:
    """The transformers class named in ``text_encoder/config.json`` (CLIPTextModel for SD)."""
    import transformers

    config_path = root / "text_encoder" / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{config_path} is missing: {root} is not a complete checkpoint")
    names = json.loads(config_path.read_text()).get("architectures") or ["CLIPTextModel"]
    try:
        model_cls = getattr(transformers, names[0])
    except AttributeError:
        raise CheckpointError(f"{config_path} names class {names[0]!r}, unknown to transformers") from None
    return read_weights(root / "text_encoder", lambda safetensors: model_cls.from_pretrained(
        root, subfolder="text_encoder", dtype=dtype, use_safetensors=safetensors))


class TextConditionalPredictor(DiffusersPredictor):
    """eps_theta(x_t, t, prompt) of a Stable-Diffusion-style model.

    Args:
        unet: ``UNet2DConditionModel`` taking ``encoder_hidden_states``.
        text_encoder: Text encoder whose first output is the hidden-state sequence.
        tokenizer: Tokenizer of the text encoder.
        alphas_cumprod: The training schedule of the UNet.
        prediction_type: What the UNet predicts (``epsilon``, ``v_prediction``,
            ``sample``); converted to eps so that every objective sees eps.
        vae: Optional ``AutoencoderKL`` (latent models).
        model_id: Name recorded in artifacts.
        weights_hash: Content hash of the weight files.
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        text_encoder: torch.nn.Module,
        tokenizer,
        alphas_cumprod: torch.Tensor,
        prediction_type: str = "epsilon",
        vae: torch.nn.Module | None = None,
        model_id: str = "text-conditional",
        weights_hash: str = "",
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if prediction_type not in _TO_EPS:
            raise ValueError(f"{model_id}: unknown prediction_type {prediction_type!r}; known: {sorted(_TO_EPS)}")
        device = torch.device(device)
        self.unet = place_frozen(unet, device, dtype)
        self.text_encoder = place_frozen(text_encoder, device, dtype)
        super().__init__(self.unet, alphas_cumprod, vae, model_id, weights_hash, device, dtype)
        self.tokenizer = tokenizer
        self.prediction_type = prediction_type
        abar = self.alphas_cumprod.to(torch.float32)
        self._signal, self._noise_scale = abar.sqrt(), (1 - abar).sqrt()
        width = int(self.text_encoder.config.hidden_size)
        if int(self.unet.config.cross_attention_dim) != width:
            raise CheckpointError(
                f"{model_id}: the UNet attends to {self.unet.config.cross_attention_dim}-wide text "
                f"states but the text encoder produces {width}: unet/ and text_encoder/ do not belong together"
            )

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> "TextConditionalPredictor":
        """Load UNet, text encoder, tokenizer, schedule and (if present) VAE.

        ``name_or_path`` is a local folder or a hub id (read from the Hugging Face
        cache; ``HF_HUB_OFFLINE=1`` forbids downloads). Half precision is for
        accelerators: pass ``float32`` on the CPU (``specs.resolve_dtype`` does).
        """
        # Only the diffusers components: SD repositories also hold multi-GB single-file checkpoints.
        components = (*REQUIRED_COMPONENTS, "vae")
        root = resolve_checkpoint(name_or_path, components)
        check_components(root, str(name_or_path))
        unet = load_component(root, "unet", dtype)
        text_encoder = _load_text_encoder(root, dtype)
        tokenizer = load_tokenizer(root, "tokenizer")
        vae = load_component(root, "vae", dtype) if (root / "vae").is_dir() else None
        scheduler = load_scheduler(root)
        prediction_type = getattr(scheduler.config, "prediction_type", "epsilon")
        return cls(unet, text_encoder, tokenizer, scheduler.alphas_cumprod, prediction_type, vae,
                   str(name_or_path), weights_sha256(root, components), device, dtype)

    @property
    def max_length(self) -> int:
        """Length every prompt is padded (and truncated) to."""
        return int(self.tokenizer.model_max_length)

    def tokenize(self, prompts: Sequence[str]):
        """Token ids padded to ``max_length``; warns about prompts that were cut."""
        batch = self.tokenizer(list(prompts), padding="max_length", max_length=self.max_length,
                               truncation=True, return_tensors="pt")
        lengths = [len(ids) for ids in self.tokenizer(list(prompts)).input_ids]
        cut = [p for p, n in zip(prompts, lengths) if n > self.max_length]
        if cut:
            log.warning("%d prompt(s) longer than %d tokens were truncated, e.g. %r",
                        len(cut), self.max_length, cut[0])
        return batch

    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """The conditioning table: one ``[max_length, width]`` hidden-state row per prompt."""
        prompts = list(prompts)
        if not prompts:
            raise ValueError("the prompt list is empty: give at least one prompt to score against")
        rows = []
        use_mask = bool(getattr(self.text_encoder.config, "use_attention_mask", False))
        for lo in range(0, len(prompts), batch_size):
            batch = self.tokenize(prompts[lo : lo + batch_size])
            mask = batch.attention_mask.to(self.device) if use_mask else None
            rows.append(self.text_encoder(batch.input_ids.to(self.device), attention_mask=mask)[0])
        return torch.cat(rows).to(self.dtype)

    def predict(self, x_t, timesteps, conditions) -> NoisePrediction:
        out = self.unet(x_t, timesteps, encoder_hidden_states=conditions).sample
        if self.prediction_type == "epsilon":
            return NoisePrediction(out)
        t = timesteps.to("cpu")
        a = self._signal[t].to(out.device, out.dtype).view(-1, 1, 1, 1)
        s = self._noise_scale[t].to(out.device, out.dtype).view(-1, 1, 1, 1)
        return NoisePrediction(_TO_EPS[self.prediction_type](out, x_t, a, s))
