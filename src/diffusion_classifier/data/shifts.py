"""Distribution shifts of the embedded default, built from the prepared digits.

Two registry entries, both writing the ordinary manifest format:

``digits_corrupted``
    Every image of a split under one seeded corruption: contrast reduction, a
    Gaussian blur and additive Gaussian noise (the ImageNetV2 / ObjectNet role: a
    shift the whole zoo meets alike).
``digits_adversarial``
    Built like ImageNet-A (Hendrycks et al.): a pool of harder shifted variants
    (random contrast, blur, noise, rotation and translation per variant) filtered
    to the images that one *fixed reference model* of the zoo misclassifies. The
    reference therefore scores 0% on it by construction, and its ID accuracy is the
    pivot of the piecewise trend (paper Sec. 6.3.1, Fig. 6).

Both are derived datasets: rule ``build_shift`` passes ``base_dir`` (the prepared
base dataset) and, for the adversarial set, the reference model as a
:class:`ReferenceModel` (built by :func:`diffusion_classifier.baselines.zoo_evaluation.reference_model`):
this package only reads data and never imports the classifiers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from .images import convert_image
from .errors import DatasetError
from .manifest import load_dataset, write_dataset
from .registry import register_dataset

__all__ = ["ReferenceModel", "corrupt", "adversarial_variant", "prepare_corrupted", "prepare_adversarial"]


@dataclass(frozen=True)
class ReferenceModel:
    """The fixed model an adversarial set is filtered against (ImageNet-A's construction).

    Attributes:
        name: Its name (in ``zoo.models``), recorded in ``dataset.json``.
        spec: Its config entry, recorded in ``dataset.json``.
        misclassifies: ``(images, labels) -> bool per image``: whether its prediction is
            not among the classes of the image's label.
    """

    name: str
    spec: dict
    misclassifies: Callable[[Sequence[Image.Image], Sequence[int]], np.ndarray]


def _rng(seed: int, image_id: str) -> np.random.Generator:
    """A generator per (seed, image): independent of order and of the other images."""
    digest = hashlib.sha256(f"{seed}:{image_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def corrupt(image: Image.Image, rng: np.random.Generator, *, contrast: float, blur: float,
            noise: float) -> Image.Image:
    """Contrast toward the mean, then Gaussian blur (radius in px), then Gaussian noise.

    Args:
        image: Grayscale image.
        rng: Source of the noise.
        contrast: Factor in (0, 1]; 1 leaves the contrast unchanged.
        blur: Gaussian blur radius in pixels (0: none).
        noise: Standard deviation of the additive noise, in 0-255 grey levels.
    """
    x = np.asarray(convert_image(image, "L"), dtype=np.float32)
    x = x.mean() + contrast * (x - x.mean())
    if blur > 0:
        x = np.asarray(Image.fromarray(np.clip(x, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur)),
                       dtype=np.float32)
    x = x + rng.normal(0.0, noise, size=x.shape)
    return Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8), mode="L")


def adversarial_variant(image: Image.Image, rng: np.random.Generator, *, max_rotation: float,
                        max_shift: float, contrast: tuple[float, float], blur: tuple[float, float],
                        noise: tuple[float, float]) -> Image.Image:
    """A random rotation + translation, then :func:`corrupt` with random severities."""
    w, h = image.size
    angle = rng.uniform(-max_rotation, max_rotation)
    dx, dy = rng.uniform(-max_shift, max_shift, size=2) * (w / 16.0)
    moved = convert_image(image, "L").rotate(angle, resample=Image.BILINEAR, translate=(dx, dy), fillcolor=0)
    return corrupt(moved, rng, contrast=rng.uniform(*contrast), blur=rng.uniform(*blur), noise=rng.uniform(*noise))


def _save(out_dir: Path, image: Image.Image, image_id: str, row: pd.Series, split: str) -> dict[str, Any]:
    rel = Path("images") / split / f"{image_id}.png"
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    image.save(out_dir / rel)
    return {"image_id": image_id, "path": rel.as_posix(), "label": int(row["label"]), "split": split,
            "orig_width": int(row["orig_width"]), "orig_height": int(row["orig_height"]),
            "sha256": hashlib.sha256((out_dir / rel).read_bytes()).hexdigest()}


def _write(out_dir: Path, base, rows: list[dict], metadata: dict) -> Path:
    reason = metadata.pop("empty_reason", "")
    if not rows:
        raise DatasetError(f"shift {metadata['name']!r} has no images: {reason}")
    classes_csv = pd.read_csv(base.root / "classes.csv")
    out = write_dataset(out_dir, pd.DataFrame(rows), base.classes, metadata)
    if "class_ids" in classes_csv.columns:  # keep the base's mapping to model classes
        classes_csv.to_csv(out / "classes.csv", index=False)
    return out


@register_dataset("digits_corrupted", "Digits under seeded contrast + blur + noise (derived; rule build_shift)")
def prepare_corrupted(out_dir: Path, *, base_dir: str | Path | None = None, split: str = "test",
                      contrast: float = 0.5, blur: float = 0.6, noise: float = 40.0, seed: int = 0,
                      reference: ReferenceModel | None = None) -> Path:
    """Every image of ``split`` of the base dataset, corrupted once (seeded per image)."""
    if base_dir is None:
        raise DatasetError("digits_corrupted is derived from a prepared dataset: it is built by rule "
                           "build_shift (config section 'shifts'), not downloaded")
    if not 0 < contrast <= 1 or blur < 0 or noise < 0:
        raise DatasetError(f"digits_corrupted: need 0 < contrast <= 1, blur >= 0, noise >= 0; got "
                           f"{contrast}, {blur}, {noise}")
    base = load_dataset(base_dir)
    rows = []
    for row, image in base.iter_images(base.split(split)):
        image_id = f"c-{row['image_id']}"
        shifted = corrupt(image, _rng(seed, image_id), contrast=contrast, blur=blur, noise=noise)
        rows.append(_save(Path(out_dir), shifted, image_id, row, split))
    metadata = {"name": "digits_corrupted", "source": "digits_corrupted", "base": base.metadata,
                "base_split": split, "contrast": contrast, "blur": blur, "noise": noise, "seed": seed,
                "empty_reason": f"split {split!r} of {base.root} is empty"}
    return _write(Path(out_dir), base, rows, metadata)


@register_dataset("digits_adversarial",
                  "Shifted digits a fixed reference model misclassifies, like ImageNet-A (derived; rule build_shift)")
def prepare_adversarial(out_dir: Path, *, base_dir: str | Path | None = None, split: str = "test",
                        reference: ReferenceModel | None = None, variants: int = 4, max_images: int | None = None,
                        max_rotation: float = 25.0, max_shift: float = 2.0,
                        contrast: tuple[float, float] = (0.3, 0.9), blur: tuple[float, float] = (0.0, 1.0),
                        noise: tuple[float, float] = (10.0, 60.0), seed: int = 0) -> Path:
    """Variants of ``split`` that the reference model gets wrong.

    Args:
        out_dir: Where the manifest form is written.
        base_dir: Prepared base dataset (given by rule ``build_shift``).
        split: Split of the base the variants are made from.
        reference: The zoo model the set is filtered against (given by rule ``build_shift``).
        variants: Shifted variants drawn per base image (the candidate pool).
        max_images: Keep at most this many of the misclassified variants (a seeded
            random subset), to bound the cost of scoring them.
        max_rotation: Largest rotation, degrees.
        max_shift: Largest translation, in pixels of a 16-pixel image (scaled).
        contrast: Range of the contrast factor.
        blur: Range of the blur radius (pixels).
        noise: Range of the noise standard deviation (grey levels).
        seed: Seed of the variants and of the subset.

    Raises:
        DatasetError: Without ``base_dir`` / ``reference``, or when the reference
            misclassifies none of the candidates (the set would be empty).
    """
    if base_dir is None or reference is None:
        raise DatasetError("digits_adversarial is filtered against a reference model of the zoo: it is built "
                           "by rule build_shift (config section 'shifts', key 'reference'), not downloaded")
    base = load_dataset(base_dir)
    pool, pool_rows = [], []
    for row, image in base.iter_images(base.split(split)):
        for k in range(variants):
            image_id = f"a-{row['image_id']}-v{k}"
            pool.append(adversarial_variant(image, _rng(seed, image_id), max_rotation=max_rotation,
                                            max_shift=max_shift, contrast=tuple(contrast), blur=tuple(blur),
                                            noise=tuple(noise)))
            pool_rows.append((image_id, row))
    wrong = np.flatnonzero(reference.misclassifies(pool, [int(row["label"]) for _, row in pool_rows])).tolist()
    misclassified = len(wrong)
    if max_images is not None and len(wrong) > max_images:
        wrong = sorted(np.random.default_rng(seed).choice(wrong, size=max_images, replace=False).tolist())
    rows = [_save(Path(out_dir), pool[i], pool_rows[i][0], pool_rows[i][1], split) for i in wrong]
    metadata = {"name": "digits_adversarial", "source": "digits_adversarial", "base": base.metadata,
                "base_split": split, "reference": {"name": reference.name, "spec": reference.spec},
                "pool_size": len(pool), "misclassified_in_pool": misclassified,
                "reference_pool_accuracy": 1 - misclassified / max(len(pool), 1),
                "variants": variants, "max_images": max_images, "max_rotation": max_rotation,
                "max_shift": max_shift, "contrast": list(contrast), "blur": list(blur), "noise": list(noise),
                "seed": seed,
                "empty_reason": f"the reference model {reference.name!r} misclassifies none of the "
                                f"{len(pool)} shifted candidates; raise 'variants' or the severities"}
    return _write(Path(out_dir), base, rows, metadata)
