"""scikit-learn's bundled handwritten digits: the embedded default's dataset.

No download: the 1,797 8x8 images ship with scikit-learn. They are upsampled
(bilinear) to ``image_size`` and split into train and test with a seeded,
stratified split, then written as PNG files in the manifest format, exactly like
the paper-scale datasets.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .manifest import write_dataset
from .registry import register_dataset

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@register_dataset("sklearn_digits")
def prepare_digits(out_dir: Path, *, image_size: int = 16, test_fraction: float = 0.25, seed: int = 0,
                   max_per_split: int | None = None) -> Path:
    """scikit-learn's 8x8 handwritten digits, upsampled, seeded stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = np.clip(digits.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    labels = digits.target.astype(int)
    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(
        index, test_size=test_fraction, stratify=labels, random_state=seed
    )
    rows = []
    for split, idx in (("train", np.sort(train_idx)), ("test", np.sort(test_idx))):
        if max_per_split is not None:
            idx = _stratified_head(idx, labels, max_per_split)
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        for i in idx:
            image = Image.fromarray(pixels[i], mode="L").resize((image_size, image_size), Image.BILINEAR)
            rel = Path("images") / split / f"digit-{i:04d}.png"
            image.save(out_dir / rel)
            rows.append({
                "image_id": f"digit-{i:04d}",
                "path": rel.as_posix(),
                "label": int(labels[i]),
                "split": split,
                "orig_width": 8,
                "orig_height": 8,
                "sha256": hashlib.sha256((out_dir / rel).read_bytes()).hexdigest(),
            })
    metadata = {"name": "digits", "source": "sklearn_digits", "image_size": image_size,
                "test_fraction": test_fraction, "seed": seed, "max_per_split": max_per_split}
    return write_dataset(out_dir, pd.DataFrame(rows), [str(d) for d in range(10)], metadata)


def _stratified_head(idx: np.ndarray, labels: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` indices, balanced across classes (for micro test configs)."""
    per_class = max(1, limit // len(np.unique(labels)))
    picked = [idx[labels[idx] == c][:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picked))[:limit]
