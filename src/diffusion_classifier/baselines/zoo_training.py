"""Training the embedded zoo: small timm classifiers trained from scratch on digits.

Each model is trained with cross-entropy and AdamW for a fixed number of epochs
(epochs, not seconds, so a rerun is identical) on the train split, optionally on a
seeded subset of it: architecture, width, epochs and data budget are what spread
the zoo's ID accuracies along the trend line. The checkpoint is safetensors plus
the zoo entry that built it, a per-epoch training log and provenance.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from tqdm.auto import tqdm

from ..artifacts.io import atomic_directory, write_json
from ..artifacts.provenance import code_version, config_hash, environment
from ..artifacts.timing import write_timing
from ..data.manifest import PreparedDataset
from ..config import Device, Positive, from_dict, resolve_device, unfilled
from .zoo import CHECKPOINT_CONFIG, CHECKPOINT_WEIGHTS, ZooModelSpec, build_zoo_model

__all__ = ["ZooTrainConfig", "train_zoo_classifier", "train_on_tensors", "train_on_stream", "split_tensors"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZooTrainConfig:
    """How to train one zoo member.

    Attributes:
        epochs: Passes over the (sub)set of training images.
        batch_size: Images per step.
        learning_rate: AdamW learning rate (cosine-decayed to 0 over the run).
        weight_decay: AdamW weight decay.
        max_train_images: Train on a seeded, class-balanced subset of this many
            images (``None``: the whole train split); a data budget.
        seed: Seed of the weights, the subset and the batch order.
        device: Where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``,
            ``cuda``, ``cuda:N``. A paper-scale ResNet-50 needs the GPU; the tiny
            embedded models train on the CPU. The checkpoint is the same either way.
    """

    epochs: Positive = unfilled(default=3)
    batch_size: Positive = unfilled(default=64)
    learning_rate: Annotated[float, Field(gt=0)] = unfilled(default=3e-3)
    weight_decay: Annotated[float, Field(ge=0)] = unfilled(default=0.05)
    max_train_images: Positive | None = None
    seed: int = unfilled(default=0)
    device: Device = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"zoo training needs epochs >= 1 and batch_size >= 1, got {self.epochs}, "
                             f"{self.batch_size}")


def split_tensors(dataset: PreparedDataset, split: str, spec: ZooModelSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a split, preprocessed for ``spec``, and their labels."""
    rows = dataset.split(split)
    transform = spec.transform
    images = torch.stack([transform(image) for _, image in dataset.iter_images(rows)])
    return images, torch.tensor(rows["label"].to_numpy(), dtype=torch.long)


def _subset(labels: torch.Tensor, limit: int | None, generator: torch.Generator) -> torch.Tensor:
    """Indices of a seeded subset, as class-balanced as the split allows."""
    order = torch.randperm(len(labels), generator=generator)
    if limit is None or limit >= len(labels):
        return order
    # Round-robin over classes in random order: balanced, then truncated.
    by_class = [order[labels[order] == c] for c in torch.unique(labels)]
    interleaved = [int(ix[i]) for i in range(max(len(ix) for ix in by_class)) for ix in by_class if i < len(ix)]
    return torch.tensor(sorted(interleaved[:limit]), dtype=torch.long)


def train_zoo_classifier(dataset: PreparedDataset, spec: ZooModelSpec, out_dir: str | Path, name: str) -> Path:
    """Train ``spec`` on the train split of ``dataset`` and save it to ``out_dir``.

    Writes ``model.safetensors``, ``config.json`` (the zoo entry, so the checkpoint
    rebuilds itself), ``train_log.csv`` (epoch, loss, train accuracy),
    and ``provenance.json``; the directory appears only when complete. Wall and CPU seconds,
    which differ on every rerun, go to the timing tree (:func:`~diffusion_classifier.artifacts.write_timing`).
    """
    if spec.train is None:
        raise ValueError(f"zoo.models.{name} has no 'train' section: it uses published weights")
    config = from_dict(ZooTrainConfig, spec.train, f"zoo.models.{name}.train")
    if len(dataset.classes) != spec.num_classes:
        raise ValueError(f"zoo.models.{name}: num_classes is {spec.num_classes} but {dataset.root} has "
                         f"{len(dataset.classes)} classes")
    images, labels = split_tensors(dataset, "train", spec)
    return train_on_tensors(images, labels, spec, config, out_dir, name, dataset.name)


def train_on_tensors(images: torch.Tensor, labels: torch.Tensor, spec: ZooModelSpec, config: ZooTrainConfig,
                     out_dir: str | Path, name: str, dataset_name: str) -> Path:
    """The zoo's training loop and checkpoint on already preprocessed inputs.

    Shared by image datasets (:func:`train_zoo_classifier`) and inputs that are not
    images of a manifest (Stable Diffusion feature maps, ``baselines.sd_features``),
    so every trained classifier of the pipeline has one loop and one checkpoint format.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    keep = _subset(labels, config.max_train_images, generator)
    return train_on_stream(_InMemory(images[keep], labels[keep]), spec, config, out_dir, name, dataset_name,
                           generator)


class _InMemory:
    """Inputs held in memory: one random order over all of them per epoch."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, generator: torch.Generator, batch_size: int):
        order = torch.randperm(len(self.labels), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            yield self.images[idx], self.labels[idx]


def train_on_stream(stream, spec: ZooModelSpec, config: ZooTrainConfig, out_dir: str | Path, name: str,
                    dataset_name: str, generator: torch.Generator | None = None) -> Path:
    """The zoo's training loop and checkpoint on a stream of preprocessed batches.

    ``stream`` has a length and ``batches(generator, batch_size)``, one epoch of shuffled
    ``(inputs, labels)`` batches: inputs in memory (:func:`train_on_tensors`) or feature
    shards read one at a time (:class:`.feature_shards.FeatureShards`, ``max_train_images``
    does not apply to them).
    """
    from ..artifacts.tensors import save_tensors

    if generator is None:
        if config.max_train_images is not None:
            raise ValueError("max_train_images subsets inputs held in memory, not a stream of feature shards")
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
    device = resolve_device(config.device)
    model = build_zoo_model(spec).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(stream) // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    rows = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for epoch in tqdm(range(1, config.epochs + 1), desc=f"train {name}", mininterval=5):
        model.train()
        losses, correct = [], 0
        for x, y in stream.batches(generator, config.batch_size):
            x, y = x.to(device, non_blocking=True), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item() * len(y))
            correct += int((logits.argmax(1) == y).sum())
        rows.append((epoch, float(np.sum(losses) / len(stream)), correct / len(stream),
                     time.perf_counter() - wall0, time.process_time() - cpu0))
        log.info("epoch %d loss %.4f train accuracy %.4f", *rows[-1][:3])
    model.eval()

    with atomic_directory(out_dir) as tmp:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_tensors(state, tmp / CHECKPOINT_WEIGHTS)
        write_json(tmp / CHECKPOINT_CONFIG, {"name": name, "spec": spec.to_dict()})
        with open(tmp / "train_log.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "loss", "train_accuracy"])
            writer.writerows(row[:3] for row in rows)
        # Measured time apart from the exact artifacts, in the timing tree.
        write_timing(out_dir, {"wall_seconds": rows[-1][3], "cpu_seconds": rows[-1][4],
                                         "per_epoch": [{"epoch": r[0], "wall_seconds": r[3], "cpu_seconds": r[4]}
                                                       for r in rows]})
        write_json(tmp / "provenance.json", {
            "model": name,
            "dataset": dataset_name,
            "num_train_images": len(stream),
            "train_config": asdict(config),
            "spec": spec.to_dict(),
            "config_hash": config_hash(spec.to_dict()),
            "parameters": sum(p.numel() for p in model.parameters()),
            "torch_threads": torch.get_num_threads(),
            "device": str(device),
            "final_train_loss": rows[-1][1],
            "code_version": code_version(),
            "environment": environment(),
        })
    return Path(out_dir)
