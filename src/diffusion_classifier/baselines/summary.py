"""The summary every Table 1 producer writes: one JSON per method x dataset, same keys.

The Diffusion Classifier's aggregate summaries already carry ``accuracy`` and
``mean_per_class_accuracy``; every baseline writes the same keys plus ``status`` and
``reason``, so Table 1 reads one file per cell whatever produced it, and a baseline that
could not run says why instead of holding a number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..robustness import accuracy_counts

__all__ = ["OK", "UNAVAILABLE", "accuracy_summary", "unavailable_summary"]

OK = "ok"
UNAVAILABLE = "unavailable"


def accuracy_summary(labels: Sequence[int], predictions: Sequence[int]) -> dict:
    """Top-1 and mean per-class accuracy (fractions) with a 99.5% Clopper-Pearson interval
    (:func:`..robustness.accuracy_counts`), and ``status: ok``."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError(f"need equally many labels and predictions, got {labels.shape} and {predictions.shape}")
    return {"status": OK, "reason": None, **accuracy_counts(labels, labels == predictions)}


def unavailable_summary(reason: str, detail: str) -> dict:
    """A summary that holds no number, only why (shown as "n/a (reason)")."""
    return {"status": UNAVAILABLE, "reason": reason, "detail": detail, "num_images": 0, "accuracy": None,
            "mean_per_class_accuracy": None}
