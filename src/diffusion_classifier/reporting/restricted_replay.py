"""In-distribution accuracy on another dataset's classes, replayed from a stored one-stage run.

Table 4 and Figure 6 need each model's ImageNet accuracy on the classes of a shifted
set (ImageNet-A's 200, ObjectNet's 113 classes = 125 ImageNet ids). A one-stage DiT
run on ImageNet val stores the error of every image against all 1,000 classes, so
these accuracies follow from it without rescoring, as the testbed defines them
(Taori et al.; the zoo's :func:`~diffusion_classifier.baselines.zoo_evaluation.mapped_predictions`):

- keep the images whose ImageNet label is one of the restricting set's ids;
- predict the candidate id with the lowest mean error over the grid, candidates = the
  union of the restricting set's ids (the argmin restricted to those classes);
- an image is right when that id belongs to its label's class of the restricting set
  (ObjectNet: any of the class's ImageNet ids).

The authors' release does the ImageNet-A case the same way (``scripts/print_dit_acc.py``,
``get_imageneta_files``: the 200 classes' error files, the images of those classes) and
has no counterpart for ObjectNet's classes.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..engine.replay import ErrorCube

__all__ = ["restricted_correct", "restricted_summary"]


def restricted_correct(cube: ErrorCube, class_ids: Sequence[Sequence[int]]) -> np.ndarray:
    """Right (True) or wrong per kept image of ``cube``, the argmin over ``class_ids``' union.

    Args:
        cube: A one-stage run whose candidate ``k`` is label ``k`` and whose labels are
            model class ids (ImageNet val scored over all its classes: its class map is the
            identity, which the stage checks).
        class_ids: Model class ids of each class of the restricting dataset.

    Raises:
        ValueError: The run's candidates are not its labels in order, or an id is outside
            the run's classes.
    """
    if cube.candidate_labels is not None and not np.array_equal(cube.candidate_labels,
                                                                np.arange(cube.num_classes)):
        raise ValueError("restricted replay needs a run whose candidate k is class k (ImageNet val over its "
                         "1,000 classes), not one whose classes span several ids")
    candidates = np.array(sorted({int(i) for ids in class_ids for i in ids}), dtype=np.int64)
    if candidates.size == 0 or candidates.min() < 0 or candidates.max() >= cube.num_classes:
        raise ValueError(f"the restricting class ids reach outside the run's {cube.num_classes} classes")
    owner = {}
    for group, ids in enumerate(class_ids):
        for i in ids:
            owner.setdefault(int(i), group)
    kept = np.isin(cube.labels, candidates)
    errors = cube.errors[kept][:, candidates, :].astype(np.float64).mean(axis=2)
    predicted = candidates[errors.argmin(axis=1)]
    groups = [class_ids[owner[int(label)]] for label in cube.labels[kept]]
    return np.array([int(p) in {int(i) for i in g} for p, g in zip(predicted, groups)], dtype=bool)


def restricted_summary(cubes: Iterable[ErrorCube], class_ids: Sequence[Sequence[int]], *, dataset: str,
                       model: str, strategy: str, classes_from: str) -> dict:
    """The summary a fit reads (counts of every shard's kept images), keyed with ``classes_from``."""
    correct = np.concatenate([restricted_correct(cube, class_ids) for cube in cubes] or [np.zeros(0, bool)])
    if correct.size == 0:
        raise ValueError(f"no image of {dataset}/{model}/{strategy} has a class of {classes_from}")
    return {"dataset": dataset, "model": model, "strategy": strategy, "classes_from": classes_from,
            "num_images": int(correct.size), "num_correct": int(correct.sum()),
            "accuracy": float(correct.mean()), "num_candidate_classes": len({int(i) for g in class_ids for i in g}),
            "source": f"replay of the stored {dataset} run restricted to the classes of {classes_from}"}
