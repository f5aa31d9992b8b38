"""Training the small class-conditional diffusion models of the embedded default.

The model is trained with the standard epsilon-prediction objective (DDPM's
L_simple) on the train split of a prepared dataset and saved with diffusers'
``save_pretrained`` (safetensors + config) next to its noise schedule, so it loads
exactly like a hub checkpoint (``ClassConditionalPredictor.from_pretrained``).

An architecture with a learned variance (twice the channels out, as DiT) trains
with improved DDPM's hybrid loss L_simple + lambda * L_vlb (Nichol & Dhariwal 2021,
Sec. 3.1): L_vlb = sum_t L_t is estimated as T * L_t at the sampled t, in bits per
dimension, and the mean (eps) enters it through a stop-gradient, so the bound trains
only the variance. lambda = 0.001 with T = 1000 gives the per-sample weight 1 that
the DiT and improved-diffusion code use. L_t is :func:`..engine.vlb.vlb_terms`, the
same function the ``vlb`` scoring objective uses.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..artifacts.io import atomic_directory, write_json
from ..artifacts.provenance import code_version, config_hash, environment
from ..artifacts.timing import write_timing
from ..config import NonNegative, Positive, PositiveFloat
from ..data.manifest import PreparedDataset
from ..data.transforms import ImageTransform
from ..engine.noising import forward_noise
from ..engine.vlb import vlb_terms
from .architectures import build_architecture

__all__ = ["DiffusionTraining", "StepTraining", "TrainConfig", "hybrid_loss", "load_split_tensors", "make_optimizer",
           "noised_batch", "optimize", "train_class_conditional",
           "write_train_log"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepTraining:
    """What every step-counted training run of the package shares (diffusion models,
    the contrastive baseline): AdamW steps on seeded random batches.

    Attributes:
        steps: Optimiser steps (steps, not seconds, so that a rerun is identical).
        batch_size: Images per step.
        learning_rate: AdamW learning rate.
        seed: Seed of the weights, batches and everything else drawn.
    """

    steps: Positive = 1000
    batch_size: Positive = 128
    learning_rate: PositiveFloat = 1e-3
    seed: NonNegative = 0


@dataclass(frozen=True)
class DiffusionTraining(StepTraining):
    """A small diffusion model's training: :class:`StepTraining` plus the network and
    the training noise schedule (also the seed of timesteps and noise).

    Attributes:
        architecture: Name in the architecture registry.
        architecture_kwargs: Overrides of the architecture's defaults.
        weight_decay: AdamW weight decay.
        beta_start: First beta of the training schedule.
        beta_end: Last beta of the training schedule.
        num_train_timesteps: Length of the training schedule.
        log_every: Write a line of the training log this often.
        lr_schedule: diffusers learning-rate schedule (``constant``, ``cosine``, ``linear``, ...;
            :func:`diffusers.optimization.get_scheduler`). A decay to zero reaches a given loss
            in fewer steps than a constant rate (measured on the digits models: config/mini.yaml).
        warmup_steps: Linear warm-up steps of the schedule.
    """

    architecture: str = "tiny_unet"
    architecture_kwargs: dict = field(default_factory=dict)
    weight_decay: float = 0.0
    beta_start: float = 1e-4
    beta_end: float = 0.02
    num_train_timesteps: Positive = 1000
    log_every: Positive = 50
    lr_schedule: str = "constant"
    warmup_steps: NonNegative = 0


@dataclass(frozen=True)
class TrainConfig(DiffusionTraining):
    """How to train one small class-conditional diffusion model (linear beta schedule).

    Attributes:
        vlb_weight: lambda of the hybrid loss (models with a learned variance only).
    """

    steps: Positive = 1500
    vlb_weight: float = 0.001


def load_split_tensors(dataset: PreparedDataset, split: str, transform: ImageTransform) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of one split as a ``[N, C, H, W]`` tensor in [-1, 1] and their labels."""
    rows = dataset.split(split)
    images = torch.stack([transform(image) for _, image in dataset.iter_images(rows)])
    return images, torch.tensor(rows["label"].to_numpy(), dtype=torch.long)


def hybrid_loss(output: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, noise: torch.Tensor,
                timesteps: torch.Tensor, alphas_cumprod: torch.Tensor, vlb_weight: float | None) -> torch.Tensor:
    """L_simple, plus ``vlb_weight * T * L_t`` (bits/dim) when the output carries a variance.

    Args:
        output: The network's output: eps, or eps and the raw variance ``v`` stacked on channels.
        vlb_weight: lambda of the hybrid loss, or ``None`` for a model without a variance.
    """
    if vlb_weight is None:
        return F.mse_loss(output, noise)
    eps, v = output.split(x0.shape[1], dim=1)
    # Stop-gradient on the mean: the bound trains the variance only (improved DDPM Sec. 3.1).
    bound = vlb_terms(x0, x_t, eps.detach(), v, timesteps, alphas_cumprod, dtype=torch.float32)
    scale = vlb_weight * len(alphas_cumprod) / math.log(2.0)
    return F.mse_loss(eps, noise) + scale * bound.mean()


def noised_batch(x0: torch.Tensor, alphas_cumprod: torch.Tensor, num_train_timesteps: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Uniform timesteps, Gaussian noise and ``x_t = sqrt(abar) x0 + sqrt(1 - abar) eps``."""
    t = torch.randint(num_train_timesteps, (len(x0),), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    return t, noise, forward_noise(x0, noise, alphas_cumprod[t].view(-1, *([1] * (x0.dim() - 1))))


def make_optimizer(parameters, config) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW and its learning-rate schedule from a training config.

    ``config`` is a :class:`TrainConfig` or any config with its ``learning_rate``,
    ``weight_decay``, ``lr_schedule``, ``warmup_steps`` and ``steps`` (the text model's).
    """
    from diffusers.optimization import SchedulerType, get_scheduler

    valid = [kind.value for kind in SchedulerType]
    if config.lr_schedule not in valid:
        raise ValueError(f"lr_schedule {config.lr_schedule!r} is not a diffusers schedule: use one of {valid}")
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = get_scheduler(config.lr_schedule, optimizer, num_warmup_steps=config.warmup_steps,
                             num_training_steps=config.steps)
    return optimizer, schedule


def optimize(step_loss: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer, *, steps: int,
             log_every: int, desc: str,
             lr_schedule: torch.optim.lr_scheduler.LRScheduler | None = None) -> tuple[list[tuple[int, float, float]], float]:
    """``steps`` optimiser steps on ``step_loss()`` (and of ``lr_schedule``, when given).

    Returns the training log, one ``(step, mean loss since the last row, seconds)``
    row every ``log_every`` steps and at the last, and the seconds taken.
    """
    rows: list[tuple[int, float, float]] = []
    start, running = time.perf_counter(), []
    for step in tqdm(range(1, steps + 1), desc=desc, mininterval=5):
        loss = step_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if lr_schedule is not None:
            lr_schedule.step()
        running.append(loss.item())
        if step % log_every == 0 or step == steps:
            rows.append((step, float(np.mean(running)), time.perf_counter() - start))
            running = []
            log.info("step %d loss %.4f", step, rows[-1][1])
    return rows, time.perf_counter() - start


def write_train_log(out_dir: Path, rows: list[tuple[int, float, float]], seconds: float, target: Path) -> None:
    """``train_log.csv`` (step, loss) into ``out_dir`` and, apart, the measured wall time of
    the model ``target`` (:func:`~diffusion_classifier.artifacts.write_timing`).

    The loss curve is exact across reruns (DVC versions it); the time is not, so it lives
    in the timing tree, not in the model's directory.
    """
    with open(out_dir / "train_log.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss"])
        writer.writerows(row[:2] for row in rows)
    write_timing(target, {"seconds": seconds, "seconds_at_step": {str(r[0]): r[2] for r in rows}})


def train_class_conditional(
    dataset: PreparedDataset,
    transform: ImageTransform,
    config: TrainConfig,
    out_dir: str | Path,
    model_id: str,
) -> Path:
    """Train on ``dataset``'s train split and save a diffusers checkpoint to ``out_dir``.

    Writes ``unet/`` or ``transformer/`` (weights + config), ``scheduler/``,
    ``train_log.csv`` (step, loss) and ``provenance.json`` (the time goes to the timing tree); the directory
    appears atomically when training has finished.
    """
    from diffusers import DDPMScheduler

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, labels = load_split_tensors(dataset, "train", transform)
    network = build_architecture(
        config.architecture,
        num_classes=len(dataset.classes),
        sample_size=transform.size,
        in_channels=transform.channels,
        **config.architecture_kwargs,
    )
    out_channels = int(network.config.out_channels)
    if out_channels not in (transform.channels, 2 * transform.channels):
        raise ValueError(
            f"architecture {config.architecture!r} predicts {out_channels} channels for "
            f"{transform.channels}-channel images: expected eps only or eps + learned variance"
        )
    learned_variance = out_channels == 2 * transform.channels
    scheduler = DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_start=config.beta_start,
        beta_end=config.beta_end,
        beta_schedule="linear",
    )
    abar64 = scheduler.alphas_cumprod.to(torch.float64)
    abar = abar64.to(torch.float32)
    optimizer, lr_schedule = make_optimizer(network.parameters(), config)

    def step_loss() -> torch.Tensor:
        idx = torch.randint(len(images), (config.batch_size,), generator=generator)
        x0, y = images[idx], labels[idx]
        t, noise, x_t = noised_batch(x0, abar, config.num_train_timesteps, generator)
        return hybrid_loss(network(x_t, t, class_labels=y).sample, x0, x_t, noise, t, abar64,
                           config.vlb_weight if learned_variance else None)

    network.train()
    rows, seconds = optimize(step_loss, optimizer, steps=config.steps, log_every=config.log_every,
                             desc=f"train {model_id}", lr_schedule=lr_schedule)

    subfolder = "transformer" if "Transformer" in type(network).__name__ else "unet"
    with atomic_directory(out_dir) as tmp:
        network.eval().save_pretrained(tmp / subfolder, safe_serialization=True)
        scheduler.save_pretrained(tmp / "scheduler")
        write_train_log(tmp, rows, seconds, Path(out_dir))
        write_json(
            tmp / "provenance.json",
            {
                "model_id": model_id,
                "dataset": dataset.name,
                "num_train_images": len(labels),
                "train_config": asdict(config),
                "transform": transform.to_dict(),
                "config_hash": config_hash(asdict(config)),
                "parameters": sum(p.numel() for p in network.parameters()),
                "final_loss": rows[-1][1] if rows else None,
                "loss": "hybrid (L_simple + lambda L_vlb)" if learned_variance else "L_simple",
                "code_version": code_version(),
                "environment": environment(),
            },
        )
    return Path(out_dir)
