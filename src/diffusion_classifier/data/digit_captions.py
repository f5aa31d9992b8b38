"""Captioned digits: the embedded default's stand-in for LAION and for Winoground.

Built from scikit-learn's bundled digits with the *same* seeded stratified split as
the ``sklearn_digits`` source (same ``test_fraction`` and ``seed``: the workflow
checks that they agree), so a model trained on this corpus has never seen a test
digit of ``digits``.

Split ``train``: the captioned corpus a small text-conditional model is trained on
(``captions.csv``, several captions per image, from the *training* templates):

* single digits, upsampled 8 -> ``image_size`` like ``sklearn_digits``
  ("a 3", "the digit 3", ...);
* pairs: two native 8x8 digits side by side in one ``image_size`` canvas,
  captioned with their order ("a 3 left of a 7", "the digit 3 left of the digit 7"),
  for all ordered combinations of two different digits except ``unseen_combinations``
  unordered combinations held out entirely.

The pair templates use one relation ("left of"): with "a 7 right of a 3" among them
the tiny text model did not learn word order within the embedded budget (measured in
``config/mini.yaml``).

Split ``test``: a Winoground-style set (``examples.csv``) from test digits only.
Each example is two pair images with swapped digits (new handwriting in each) and
two captions with the same words in swapped order, written with a *held-out*
template ("the 3 left of the 7" / "the 7 left of the 3"): a caption never seen in
training, though its digits sit at the token positions of "a 3 left of a 7". The
tiny model binds a digit to its side by the digit's token position, and held-out
templates that move the digits ("a picture of a 3 left of a 7") defeat it (measured
in ``config/mini.yaml``). Its
``tag`` says whether the combination was seen in training pairs (``seen``) or
held out (``unseen``); ``collapsed_tag`` is ``Object`` (the digits are swapped).

Corpus images have label 0: their captions live in ``captions.csv``; example images
have the slot of their own caption, as in every caption-pair dataset.
"""

from __future__ import annotations

import hashlib
import itertools
import string
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .pairs import write_pair_dataset
from .registry import register_dataset

__all__ = ["prepare_digit_captions", "SINGLE_TEMPLATES", "PAIR_TEMPLATES", "TEST_PAIR_TEMPLATE",
           "held_out_combinations", "format_template"]

SINGLE_TEMPLATES = ("a {}", "the digit {}", "a picture of the digit {}", "an image of a {}")
PAIR_TEMPLATES = ("a {0} left of a {1}", "the digit {0} left of the digit {1}")
TEST_PAIR_TEMPLATE = "the {0} left of the {1}"


def format_template(template: str, *values: object) -> str:
    """``template.format(*values)`` after checking it has exactly ``len(values)`` fields."""
    fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    if len(fields) != len(values):
        raise ValueError(f"template {template!r} has {len(fields)} placeholder(s); it needs {len(values)}")
    return template.format(*values)


def held_out_combinations(count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` unordered digit combinations kept out of the training pairs (seeded)."""
    combos = list(itertools.combinations(range(10), 2))
    if not 0 <= count < len(combos):
        raise ValueError(f"unseen_combinations must be in 0..{len(combos) - 1}, got {count}")
    order = np.random.default_rng(seed).permutation(len(combos))
    return sorted(combos[i] for i in order[:count])


def _split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The split of ``sklearn_digits`` (same call, same arguments)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction, stratify=labels,
                                   random_state=seed)
    return np.sort(train), np.sort(test)


def _pair_canvas(left: np.ndarray, right: np.ndarray, size: int) -> np.ndarray:
    canvas = np.zeros((size, size), dtype=np.uint8)
    top = (size - 8) // 2
    half = size // 2
    offset = (half - 8) // 2
    canvas[top : top + 8, offset : offset + 8] = left
    canvas[top : top + 8, half + offset : half + offset + 8] = right
    return canvas


@register_dataset("digit_captions", "Captioned digits: a training corpus (singles + ordered pairs) and a "
                  "Winoground-style test set of swapped pairs")
def prepare_digit_captions(
    out_dir: Path,
    *,
    image_size: int = 16,
    test_fraction: float = 0.25,
    seed: int = 0,
    single_templates: list[str] = list(SINGLE_TEMPLATES),
    pair_templates: list[str] = list(PAIR_TEMPLATES),
    test_pair_template: str = TEST_PAIR_TEMPLATE,
    pairs_per_order: int = 30,
    unseen_combinations: int = 5,
    test_examples_per_combination: int = 2,
    max_singles: int | None = None,
) -> Path:
    """Write the captioned corpus (split ``train``) and the swapped-pair examples (``test``)."""
    from sklearn.datasets import load_digits

    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 to hold two 8x8 digits side by side, got {image_size}")
    for template in single_templates:
        format_template(template, 0)
    for template in [*pair_templates, test_pair_template]:
        format_template(template, 0, 1)
    if test_pair_template in pair_templates:
        raise ValueError("test_pair_template must be held out: it is also among pair_templates")
    digits = load_digits()
    pixels = np.clip(digits.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    labels = digits.target.astype(int)
    train_idx, test_idx = _split(labels, test_fraction, seed)
    rng = np.random.default_rng(seed)
    unseen = set(held_out_combinations(unseen_combinations, seed))
    by_digit = {split: {d: idx[labels[idx] == d] for d in range(10)}
                for split, idx in (("train", train_idx), ("test", test_idx))}

    manifest, captions, used = [], [], set()

    def save(array: np.ndarray, image_id: str, split: str, label: int) -> None:
        rel = Path("images") / split / f"{image_id}.png"
        (out_dir / rel.parent).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array, mode="L").save(out_dir / rel)
        manifest.append({"image_id": image_id, "path": rel.as_posix(), "label": label, "split": split,
                         "orig_width": array.shape[1], "orig_height": array.shape[0],
                         "sha256": hashlib.sha256((out_dir / rel).read_bytes()).hexdigest()})

    singles = train_idx if max_singles is None else train_idx[rng.permutation(len(train_idx))[:max_singles]]
    for i in np.sort(singles):
        image = Image.fromarray(pixels[i], mode="L").resize((image_size, image_size), Image.BILINEAR)
        image_id = f"digit-{i:04d}"
        save(np.asarray(image), image_id, "train", 0)
        captions += [{"image_id": image_id, "caption": format_template(t, labels[i])} for t in single_templates]

    for a, b in itertools.permutations(range(10), 2):
        if tuple(sorted((a, b))) in unseen:
            continue
        for _ in range(pairs_per_order):
            i, j = rng.choice(by_digit["train"][a]), rng.choice(by_digit["train"][b])
            image_id = f"pair-{i:04d}-{j:04d}"
            if image_id in used:
                continue  # the same two drawings drawn twice: keep one
            used.add(image_id)
            save(_pair_canvas(pixels[i], pixels[j], image_size), image_id, "train", 0)
            captions += [{"image_id": image_id, "caption": format_template(t, a, b)} for t in pair_templates]

    examples = []
    for a, b in itertools.combinations(range(10), 2):
        for k in range(test_examples_per_combination):
            i0, j0 = rng.choice(by_digit["test"][a]), rng.choice(by_digit["test"][b])
            i1, j1 = rng.choice(by_digit["test"][b]), rng.choice(by_digit["test"][a])
            example_id = f"{a}{b}-{k:02d}"
            ids = (f"ex-{example_id}-img-0", f"ex-{example_id}-img-1")
            save(_pair_canvas(pixels[i0], pixels[j0], image_size), ids[0], "test", 0)
            save(_pair_canvas(pixels[i1], pixels[j1], image_size), ids[1], "test", 1)
            examples.append({
                "id": example_id, "image_0": ids[0], "image_1": ids[1],
                "caption_0": format_template(test_pair_template, a, b),
                "caption_1": format_template(test_pair_template, b, a),
                "tag": "unseen" if (a, b) in unseen else "seen", "secondary_tag": "left-right",
                "num_main_preds": 1, "collapsed_tag": "Object",
                "sources": f"{i0},{j0},{i1},{j1}",
            })

    metadata = {
        "name": "digit_captions", "source": "digit_captions", "image_size": image_size,
        "test_fraction": test_fraction, "seed": seed, "single_templates": list(single_templates),
        "pair_templates": list(pair_templates), "test_pair_template": test_pair_template,
        "pairs_per_order": pairs_per_order, "unseen_combinations": [list(c) for c in sorted(unseen)],
        "test_examples_per_combination": test_examples_per_combination, "max_singles": max_singles,
    }
    return write_pair_dataset(out_dir, pd.DataFrame(manifest), pd.DataFrame(examples), metadata,
                              captions=pd.DataFrame(captions))
