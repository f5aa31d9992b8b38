"""Fixtures for the baseline tests: a tiny colour dataset in the manifest format."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from diffusion_classifier.data import write_dataset

# (RGB, label): labels 0 red, 1 green, 2 blue. By hand with the "colors" stand-in
# (image embedding = RGB, prompt embedding = its colour axis), the prediction is the
# largest channel: 0, 1, 2, 0, 1, 1 -> 4 of 6 correct; per class 2/3, 1/1, 1/2.
COLOR_IMAGES = [((255, 0, 0), 0), ((0, 200, 0), 1), ((10, 10, 250), 2),
                ((230, 128, 0), 0), ((100, 200, 0), 0), ((0, 100, 90), 2)]
EXPECTED_PREDICTIONS = [0, 1, 2, 0, 1, 1]


@pytest.fixture
def color_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "colors"
    (root / "images").mkdir(parents=True)
    rows = []
    for i, (rgb, label) in enumerate(COLOR_IMAGES):
        rel = f"images/{i}.png"
        Image.fromarray(np.full((2, 2, 3), rgb, dtype=np.uint8)).save(root / rel)
        rows.append({"image_id": f"c{i}", "path": rel, "label": label, "split": "test", "orig_width": 2,
                     "orig_height": 2, "sha256": hashlib.sha256((root / rel).read_bytes()).hexdigest()})
    return write_dataset(root, pd.DataFrame(rows), ["red", "green", "blue"], {"name": "colors"})
