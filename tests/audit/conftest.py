"""Fixtures for the audit tests: weight files, a tiny image dataset and its manifest."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from helpers.audit_helpers import image_features, make_aesthetic_state, make_keras_nsfw


@pytest.fixture
def aesthetic_pth(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    state = make_aesthetic_state()
    path = tmp_path / "sac+logos+ava1-l14-linearMSE.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture
def keras_nsfw() -> dict[str, np.ndarray]:
    return make_keras_nsfw()


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """Seven tiny images (one garbage file) with varied *recorded* original sizes.

    The files are all 8x8 or 16x16 PNGs; the manifest's orig sizes are what the
    resolution filter must use. Row 3 is garbage bytes with a .png name; row 5 is given
    by absolute path.
    """
    rng = np.random.default_rng(7)
    root = tmp_path / "ds"
    (root / "img").mkdir(parents=True)
    sizes = [(512, 512), (511, 900), (900, 511), (640, 480), (4000, 3000), (32, 32), (1024, 768)]
    rows = []
    for i, (width, height) in enumerate(sizes):
        rel = f"img/{i:02d}.png"
        side = 8 if i % 2 else 16
        data = b"this is not an image\x00\xff" * 3 if i == 3 else _png_bytes(
            rng.integers(0, 256, (side, side, 3))
        )
        (root / rel).write_bytes(data)
        rows.append(
            {
                "image_id": f"im{i:02d}",
                "path": str(root / rel) if i == 5 else rel,
                "label": i % 3,
                "split": "test",
                "orig_width": width,
                "orig_height": height,
                "sha256": hashlib.sha256(data).hexdigest(),  # the audit checks every image's bytes
            }
        )
    return root, pd.DataFrame(rows)


@pytest.fixture
def decoded_features(tiny_dataset: tuple[Path, pd.DataFrame]) -> dict[str, np.ndarray]:
    """image_id -> features of every decodable image, computed without the package."""
    root, manifest = tiny_dataset
    features = {}
    for row in manifest.itertuples():
        path = Path(row.path) if Path(row.path).is_absolute() else root / row.path
        try:
            with Image.open(path) as image:
                features[row.image_id] = image_features(image) * 7.0
        except Exception:
            continue
    return features
