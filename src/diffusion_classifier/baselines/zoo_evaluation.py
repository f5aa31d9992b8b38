"""Evaluating a zoo classifier on a prepared dataset, through a class mapping.

A dataset's ``classes.csv`` may carry a ``class_ids`` column: for each dataset class,
the model class id(s) it corresponds to (ImageNet-A: one ImageNet id per class;
ObjectNet: one or more of 125 ImageNet ids per class). Without it, class ``i`` of
the dataset is model class ``i`` (digits). ``class_ids`` cells may be ``7``,
``7;9``, ``7 9`` or ``[7, 9]``.

Following the robustness testbed and the paper (Sec. 5.2, 6.3.1):

- the prediction is the argmax over the *candidate* model classes only, the union
  of the mapped ids (ImageNet-A: its 200 classes; ObjectNet: its 125 ImageNet ids);
- an image is correct when the predicted model class is one of its class's ids;
- an ID counterpart (ImageNet val restricted to ImageNet-A's classes) takes its
  candidates from another dataset (``classes_from``) and keeps only the images whose
  label maps into them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..config import from_dict
from ..data.errors import DatasetError
from ..data.manifest import PreparedDataset
from ..data.shifts import ReferenceModel
from ..specs import EvaluationSetting
from .zoo import ZooImage, ZooModelSpec, load_zoo_model

__all__ = ["ClassMapping", "class_mapping", "evaluate_classifier", "mapped_predictions",
           "reference_model", "summarise"]


@dataclass(frozen=True)
class ClassMapping:
    """Model class ids of each dataset class, and the candidate model classes."""

    ids: tuple[tuple[int, ...], ...]
    candidates: tuple[int, ...]

    @classmethod
    def identity(cls, num_classes: int) -> "ClassMapping":
        """A classifier trained on the dataset's own labels: output ``i`` is label ``i``."""
        return cls(tuple((i,) for i in range(num_classes)), tuple(range(num_classes)))

    def kept_labels(self) -> np.ndarray:
        """Dataset labels with at least one id among the candidates."""
        cand = set(self.candidates)
        return np.array([i for i, ids in enumerate(self.ids) if cand & set(ids)], dtype=int)


def _parse_ids(cell: object, where: str) -> tuple[int, ...]:
    if isinstance(cell, (int, np.integer)):
        return (int(cell),)
    if isinstance(cell, float) and cell == int(cell):
        return (int(cell),)
    text = str(cell).strip().strip("[]")
    parts = [p for p in re.split(r"[;,\s]+", text) if p]
    if not parts or not all(p.lstrip("-").isdigit() for p in parts):
        raise DatasetError(f"{where}: class_ids cell {cell!r} is not a list of integers (e.g. '7' or '7;9')")
    return tuple(int(p) for p in parts)


def dataset_class_ids(dataset: PreparedDataset) -> tuple[tuple[int, ...], ...]:
    """``class_ids`` of every class of ``dataset`` (identity when the column is absent)."""
    path = dataset.root / "classes.csv"
    table = pd.read_csv(path)
    if "class_ids" not in table.columns:
        return tuple((i,) for i in range(len(dataset.classes)))
    return tuple(_parse_ids(cell, f"{path} row {i}") for i, cell in enumerate(table["class_ids"]))


def class_mapping(dataset: PreparedDataset, classes_from: PreparedDataset | None, num_model_classes: int) -> ClassMapping:
    """The mapping of ``dataset``, with candidates from ``classes_from`` if given.

    Raises:
        DatasetError: On ids outside ``0..num_model_classes-1`` or no candidates.
    """
    ids = dataset_class_ids(dataset)
    source = classes_from or dataset
    candidates = sorted({i for group in dataset_class_ids(source) for i in group})
    bad = [i for i in candidates + [i for g in ids for i in g] if not 0 <= i < num_model_classes]
    if bad:
        raise DatasetError(f"class_ids of {source.root} reach {sorted(set(bad))[:5]}, outside the model's "
                           f"{num_model_classes} classes: the mapping and the model do not match")
    if not candidates:
        raise DatasetError(f"{source.root}/classes.csv maps to no model class")
    return ClassMapping(ids, tuple(candidates))


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: Sequence, transform: ZooImage, batch_size: int = 256,
                   desc: str = "evaluate") -> torch.Tensor:
    """Logits of ``model`` for PIL images (CPU float32 output)."""
    device = next(iter(model.parameters()), torch.empty(0)).device
    outputs = []
    for start in tqdm(range(0, len(images), batch_size), desc=desc, mininterval=5):
        batch = torch.stack([transform(im) for im in images[start:start + batch_size]]).to(device)
        outputs.append(model(batch).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0)


def evaluate_classifier(model: torch.nn.Module, dataset: PreparedDataset, transform: ZooImage,
                        mapping: ClassMapping, split: str,
                        batch_size: int = EvaluationSetting.batch_size) -> pd.DataFrame:
    """Per-image predictions of ``model`` on a split, restricted to the mapping's candidates.

    Returns:
        One row per kept image: ``image_id``, ``label``, ``label_name``,
        ``predicted_class`` (model class id), ``prediction`` (dataset class whose ids
        contain it, -1 if none), ``prediction_name``, ``correct``, ``confidence``
        (softmax over the candidates).

    Raises:
        DatasetError: If no image of the split has a label among the candidates.
    """
    rows = dataset.split(split)
    rows = rows[rows["label"].isin(mapping.kept_labels())].reset_index(drop=True)
    if rows.empty:
        raise DatasetError(f"{dataset.root} split {split!r}: no image has a class among the "
                           f"{len(mapping.candidates)} candidate classes")
    images = [image for _, image in dataset.iter_images(rows)]
    logits = predict_logits(model, images, transform, batch_size, desc=f"evaluate {dataset.name}")
    return mapped_predictions(logits, rows["image_id"].astype(str), rows["label"].to_numpy(), dataset.classes,
                              mapping)


def mapped_predictions(logits: torch.Tensor, image_ids, labels: np.ndarray, class_names, mapping: ClassMapping
                       ) -> pd.DataFrame:
    """Per-image predictions from model logits: argmax over the mapping's candidates, a
    prediction right when its model class is among the image's class ids.

    Returns:
        The columns of :func:`evaluate_classifier`.
    """
    candidates = torch.tensor(mapping.candidates)
    if logits.shape[1] <= int(candidates.max()):
        raise DatasetError(f"model has {logits.shape[1]} outputs but the mapping uses class {int(candidates.max())}")
    restricted = logits[:, candidates].softmax(dim=1)
    confidence, best = restricted.max(dim=1)
    predicted = candidates[best].numpy()
    owner = {}
    for label, ids in enumerate(mapping.ids):
        for i in ids:
            owner.setdefault(i, label)
    prediction = np.array([owner.get(int(p), -1) for p in predicted])
    correct = np.array([int(p) in mapping.ids[lab] for p, lab in zip(predicted, labels)])
    return pd.DataFrame({
        "image_id": list(image_ids),
        "label": labels,
        "label_name": [class_names[i] for i in labels],
        "predicted_class": predicted.astype(int),
        "prediction": prediction,
        "prediction_name": [class_names[i] if i >= 0 else "" for i in prediction],
        "correct": correct,
        "confidence": confidence.numpy().astype(float),
    })


def summarise(predictions: pd.DataFrame, mapping: ClassMapping) -> dict:
    """Counts and accuracy of one evaluation (intervals are added by the fit)."""
    n, correct = len(predictions), int(predictions["correct"].sum())
    return {"num_images": n, "num_correct": correct, "accuracy": correct / n,
            "num_candidate_classes": len(mapping.candidates),
            "classes_present": int(predictions["label"].nunique())}


def reference_model(reference: dict, base: PreparedDataset) -> ReferenceModel:
    """The zoo model ``{"name", "spec", "checkpoint"}`` as the filter of an adversarial shift of ``base``.

    An image counts as misclassified when the model's prediction among ``base``'s
    candidate classes is not one of its label's classes.
    """
    name = reference.get("name")
    spec = from_dict(ZooModelSpec, reference["spec"], f"reference model {name}")
    model = load_zoo_model(spec, reference.get("checkpoint"))
    mapping = class_mapping(base, None, spec.num_classes)

    def misclassifies(images: Sequence, labels: Sequence[int]) -> np.ndarray:
        if not len(images):
            return np.zeros(0, dtype=bool)
        logits = predict_logits(model, images, spec.transform, desc=f"filter with {name}")
        candidates = np.asarray(mapping.candidates)
        predicted = candidates[logits[:, candidates].argmax(dim=1).numpy()]
        return np.array([int(p) not in mapping.ids[int(label)] for p, label in zip(predicted, labels)], dtype=bool)

    return ReferenceModel(name, reference["spec"], misclassifies)
