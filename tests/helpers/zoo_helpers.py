"""Tiny manifests and hand-made checkpoints for the zoo and shift tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from safetensors.torch import save_file

from diffusion_classifier.artifacts import write_json
from diffusion_classifier.baselines.zoo import CHECKPOINT_CONFIG, CHECKPOINT_WEIGHTS
from diffusion_classifier.data import write_dataset

IMAGE = {"size": 8, "channels": 1, "resample": "bilinear", "mean": [0.5], "std": [0.5]}


def make_manifest(root: Path, labels_by_split: dict[str, list[int]], classes: list[str],
                  class_ids: list[str] | None = None, seed: int = 0) -> Path:
    """An ImageFolder-like prepared dataset of random 8x8 grey images; image brightness = 20 * label."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, labels in labels_by_split.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        for i, label in enumerate(labels):
            pixels = np.clip(20 * label + rng.integers(0, 8, size=(8, 8)), 0, 255).astype(np.uint8)
            rel = Path("images") / split / f"{split}-{i:03d}.png"
            Image.fromarray(pixels, mode="L").save(root / rel)
            rows.append({"image_id": f"{split}-{i:03d}", "path": rel.as_posix(), "label": label, "split": split,
                         "orig_width": 8, "orig_height": 8,
                         "sha256": hashlib.sha256((root / rel).read_bytes()).hexdigest()})
    write_dataset(root, pd.DataFrame(rows), classes, {"name": root.name})
    if class_ids is not None:
        pd.DataFrame({"index": range(len(classes)), "name": classes, "class_ids": class_ids}).to_csv(
            root / "classes.csv", index=False)
    return root


def constant_checkpoint(root: Path, favourite: int, num_classes: int = 10) -> dict:
    """A trained-zoo checkpoint of ``digits_linear`` that always predicts ``favourite``."""
    spec = {"source": "timm", "architecture": "digits_linear", "kwargs": {"img_size": 8},
            "num_classes": num_classes, "image": IMAGE, "train_dataset": "x", "train": {"epochs": 1}}
    weight = torch.zeros(num_classes, 64)
    bias = torch.zeros(num_classes)
    bias[favourite] = 5.0
    root.mkdir(parents=True, exist_ok=True)
    save_file({"head.weight": weight, "head.bias": bias}, root / CHECKPOINT_WEIGHTS)
    write_json(root / CHECKPOINT_CONFIG, {"name": "constant", "spec": spec})
    return {"name": "constant", "spec": spec, "checkpoint": str(root)}
