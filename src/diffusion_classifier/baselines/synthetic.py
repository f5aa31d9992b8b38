"""Table 1's "Synthetic SD Data" row: labelled images sampled from the class prompts.

The baseline of the paper (He et al., 2022, as cited in Table 1) trains a classifier
on images the text-to-image model generates from each class's prompt, then tests it
on the real test set. Here the sampler is diffusers' :class:`~diffusers.DDIMScheduler`
(eta = 0, deterministic given the initial noise) driven by the same UNet, text encoder
and VAE the :class:`~diffusion_classifier.models.text_conditional.TextConditionalPredictor`
holds, built from the predictor's own ``alphas_cumprod`` so that sampling and scoring
share one noise schedule. Every image has its own seed (hashed from the run seed, the
class and the index, like :func:`~diffusion_classifier.engine.seeding.image_seed`), so
any shard split regenerates identical images.

Classifier-free guidance (``guidance_scale > 1``) needs a model trained with an empty
prompt (SD 2.0 was); the embedded ``digits_text`` model was not, so it samples unguided
(``guidance_scale: 1``, no unconditional pass).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from ..artifacts.io import atomic_directory, write_json
from ..artifacts.provenance import code_version
from ..data.images import opened
from ..data.errors import DatasetError
from ..data.manifest import load_dataset, write_dataset
from ..engine.seeding import image_seed
from ..specs import SyntheticSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["GENERATION_TABLE", "plan_images", "ddim_scheduler", "sample_images",
           "generate_shard", "merge_shards", "to_pil"]

log = logging.getLogger(__name__)

#: Side table of a synthetic dataset: image_id, class_index, class_name, prompt, seed, shard.
GENERATION_TABLE = "generation.csv"


def plan_images(prompts: pd.DataFrame, images_per_class: int, seed: int, num_shards: int) -> pd.DataFrame:
    """Every image to generate: ``image_id, class_index, class_name, prompt, seed, shard``.

    The seed depends only on (run seed, class, index), not on the shard count.
    """
    rows = []
    for _, p in prompts.iterrows():
        for k in range(images_per_class):
            image_id = f"syn-{int(p['class_index']):04d}-{k:05d}"
            rows.append((image_id, int(p["class_index"]), str(p["class_name"]), str(p["prompt"]),
                         image_seed(seed, image_id)))
    plan = pd.DataFrame(rows, columns=["image_id", "class_index", "class_name", "prompt", "seed"])
    plan["shard"] = np.arange(len(plan)) % num_shards
    return plan


def ddim_scheduler(alphas_cumprod: torch.Tensor, steps: int):
    """diffusers' DDIM sampler on the model's training schedule (eps-parameterised).

    The predictor already converts v- and x0-predictions to eps, so the scheduler is
    always told ``epsilon``. Betas are recovered from ``alphas_cumprod``.
    """
    import torch
    from diffusers import DDIMScheduler

    abar = alphas_cumprod.to(torch.float64)
    betas = 1 - abar / torch.cat([abar.new_ones(1), abar[:-1]])
    scheduler = DDIMScheduler(num_train_timesteps=len(abar), trained_betas=betas.float().numpy(),
                              prediction_type="epsilon", clip_sample=False, set_alpha_to_one=False,
                              steps_offset=1, timestep_spacing="leading")
    scheduler.set_timesteps(min(steps, len(abar)))
    return scheduler


def _latent_shape(predictor) -> tuple[int, int, int]:
    size = int(predictor.unet.config.sample_size)
    return (predictor.in_channels, size, size)


def sample_images(predictor, conditions: torch.Tensor, seeds: Sequence[int], steps: int,
                  guidance_scale: float = 1.0, unconditional: torch.Tensor | None = None) -> torch.Tensor:
    """DDIM samples for one batch, as pixels in [-1, 1] (CPU float32).

    Args:
        predictor: A text-conditional predictor (``unet``, ``predict``, ``vae`` or none).
        conditions: ``[N, length, width]`` prompt embeddings, one per image.
        seeds: One seed per image: the initial noise is drawn on the CPU from it.
        steps: DDIM steps.
        guidance_scale: CFG weight; with 1 ``unconditional`` is not used.
        unconditional: ``[1, length, width]`` empty-prompt embedding for guidance.
    """
    import torch

    if len(seeds) != len(conditions):
        raise ValueError(f"{len(seeds)} seeds for {len(conditions)} prompts")
    with torch.no_grad():
        shape = _latent_shape(predictor)
        device, dtype = predictor.device, predictor.dtype
        noise = torch.stack([torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(s)))
                             for s in seeds])
        scheduler = ddim_scheduler(predictor.alphas_cumprod, steps)
        x = (noise * scheduler.init_noise_sigma).to(device, dtype)
        conditions = conditions.to(device, dtype)
        guided = guidance_scale > 1.0
        if guided:
            if unconditional is None:
                raise ValueError("guidance_scale > 1 needs the unconditional (empty-prompt) embedding")
            conditions = torch.cat([unconditional.to(device, dtype).expand_as(conditions), conditions])
        for t in scheduler.timesteps:
            t_batch = torch.full((len(x) * (2 if guided else 1),), int(t), device=device, dtype=torch.long)
            x_in = torch.cat([x, x]) if guided else x
            eps = predictor.predict(x_in, t_batch, conditions).eps
            if guided:
                eps_uncond, eps_cond = eps.chunk(2)
                eps = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
            x = scheduler.step(eps, t, x).prev_sample
        if predictor.vae is not None:
            x = predictor.vae.decode(x / predictor.vae.config.scaling_factor).sample
        return x.float().clamp(-1, 1).cpu()


def to_pil(pixels: torch.Tensor, size: int | None = None) -> Image.Image:
    """One ``[C, H, W]`` image in [-1, 1] -> 8-bit PIL (L or RGB), optionally resized."""
    array = ((pixels.numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    image = Image.fromarray(array[0], "L") if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0))
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return image


def generate_shard(predictor, plan: pd.DataFrame, embeddings: torch.Tensor, spec: SyntheticSpec,
                   out_dir: str | Path, shard: int, provenance: dict) -> Path:
    """Generate this shard's images of ``plan`` into ``out_dir`` (appears when complete).

    Writes ``images/<image_id>.png``, ``generation.csv`` (the plan rows of the shard)
    and ``provenance.json``.

    Args:
        embeddings: Prompt table embeddings, row ``i`` = class index ``i``.
    """
    import torch

    rows = plan[plan["shard"] == shard].reset_index(drop=True)
    unconditional = None
    if spec.guided:
        unconditional = predictor.encode_prompts([spec.negative_prompt])
    with atomic_directory(out_dir) as tmp:
        (tmp / "images").mkdir()
        for start in tqdm(range(0, len(rows), spec.batch_size), desc=f"generate shard {shard}", mininterval=5):
            batch = rows.iloc[start:start + spec.batch_size]
            pixels = sample_images(predictor, embeddings[torch.tensor(batch["class_index"].tolist())],
                                   batch["seed"].tolist(), spec.steps, spec.guidance_scale, unconditional)
            for image_id, image in zip(batch["image_id"], pixels):
                to_pil(image, spec.size).save(tmp / "images" / f"{image_id}.png")
        rows.to_csv(tmp / GENERATION_TABLE, index=False)
        write_json(tmp / "provenance.json", {**provenance, "shard": shard, "num_images": len(rows),
                                             "spec": asdict(spec), "code_version": code_version()})
    return Path(out_dir)


def merge_shards(shard_dirs: Sequence[str | Path], real_dataset_dir: str | Path, out_dir: str | Path,
                 name: str) -> Path:
    """Join generation shards into one prepared dataset (all images in split ``train``).

    ``manifest.csv`` / ``classes.csv`` / ``dataset.json`` in the manifest format (classes
    copied from the real dataset, so labels agree), plus ``generation.csv`` with the prompt
    and seed of every image. Images are hard-linked when possible, else copied.
    """
    from ..artifacts.provenance import file_sha256

    real = load_dataset(real_dataset_dir)
    tables, manifest = [], []
    with atomic_directory(out_dir) as tmp:
        (tmp / "images").mkdir()
        for shard_dir in map(Path, shard_dirs):
            table_path = shard_dir / GENERATION_TABLE
            if not table_path.exists():
                raise DatasetError(f"{table_path} is missing: {shard_dir} is not a finished generation shard; "
                                   "re-run rule generate_synthetic")
            table = pd.read_csv(table_path)
            tables.append(table)
            for image_id, label in zip(table["image_id"], table["class_index"]):
                source, target = shard_dir / "images" / f"{image_id}.png", tmp / "images" / f"{image_id}.png"
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
                with opened(target) as image:
                    width, height = image.size
                manifest.append((image_id, f"images/{image_id}.png", int(label), "train", width, height,
                                 file_sha256(target)))
        generation = pd.concat(tables, ignore_index=True).sort_values("image_id")
        if generation["image_id"].duplicated().any():
            raise DatasetError(f"generation shards {list(shard_dirs)} overlap: one image id appears twice")
        generation.to_csv(tmp / GENERATION_TABLE, index=False)
        frame = pd.DataFrame(manifest, columns=["image_id", "path", "label", "split", "orig_width", "orig_height",
                                                "sha256"])
        classes = pd.read_csv(real.root / "classes.csv").drop(columns=["index"], errors="ignore")
        write_dataset(tmp, frame, classes, {"name": name, "source": "synthetic",
                                            "real_dataset": real.name, "shards": len(tables)})
    return Path(out_dir)
