"""Exact (Clopper-Pearson) confidence intervals for accuracies.

Figure 6 of the paper draws every point with a 99.5% Clopper-Pearson interval
(alpha = 0.005), computed on the accuracy and only then mapped to logit space. The
interval is exact for a binomial count, which is why the robustness tables keep
``correct`` / ``total`` counts rather than rounded percentages.
"""

from __future__ import annotations

from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_ALPHA: float = 0.005
"""Two-sided significance level of the paper's error bars (99.5% intervals)."""


def _as_counts(name: str, values: ArrayLike) -> NDArray[np.int64]:
    """Return ``values`` as an integer array, refusing non-integral or missing counts."""
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite counts, got {values!r}")
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must be whole numbers of images, got {values!r}")
    return arr.astype(np.int64)


@overload
def clopper_pearson(correct: int, total: int, alpha: float = ...) -> tuple[float, float]: ...


@overload
def clopper_pearson(
    correct: ArrayLike, total: ArrayLike, alpha: float = ...
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...


def clopper_pearson(correct, total, alpha=DEFAULT_ALPHA):
    """Clopper-Pearson interval of an accuracy ``correct / total``.

    Uses ``statsmodels.stats.proportion.proportion_confint(method="beta")``, i.e. the
    Beta quantiles ``Beta(alpha/2; k, n-k+1)`` and ``Beta(1-alpha/2; k+1, n-k)``, with
    the lower bound exactly 0 when ``k == 0`` and the upper bound exactly 1 when
    ``k == n``.

    Args:
        correct: Number of correctly classified images (scalar or array).
        total: Number of images evaluated (scalar or array, broadcastable).
        alpha: Two-sided significance level; the default 0.005 gives the paper's
            99.5% intervals.

    Returns:
        ``(low, high)`` in accuracy units ([0, 1]): floats for scalar inputs, float
        arrays otherwise.

    Raises:
        ValueError: If counts are not whole numbers, ``total <= 0``, ``correct`` lies
            outside ``[0, total]``, or ``alpha`` is not in (0, 1).
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    k = _as_counts("correct", correct)
    n = _as_counts("total", total)
    k, n = np.broadcast_arrays(k, n)
    if np.any(n <= 0):
        raise ValueError(f"total must be positive, got {total!r}")
    if np.any((k < 0) | (k > n)):
        raise ValueError(f"correct must lie in [0, total], got correct={correct!r}, total={total!r}")
    # Imported here: statsmodels costs ~0.4 s to import, paid only by callers that need it.
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=alpha, method="beta")
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    if np.ndim(correct) == 0 and np.ndim(total) == 0:
        return float(low), float(high)
    return low, high


def accuracy_counts(labels: ArrayLike, correct: ArrayLike) -> dict:
    """The accuracy fields every classification summary carries (fractions, not %).

    ``num_images``, ``num_correct``, ``accuracy`` with its 99.5% interval
    (``accuracy_ci_low`` / ``_high``), ``mean_per_class_accuracy`` (over the classes
    present) and ``classes_present``: the Diffusion Classifier's aggregate summaries
    and every Table 1 baseline's, so Table 1 reads one format whatever made a cell.

    Args:
        labels: True label of each image.
        correct: Whether each image was classified right.
    """
    labels, correct = np.asarray(labels), np.asarray(correct, dtype=bool)
    if labels.shape != correct.shape or labels.size == 0:
        raise ValueError(f"need one outcome per label, got {labels.shape} labels and {correct.shape} outcomes")
    n, k = int(correct.size), int(correct.sum())
    low, high = clopper_pearson(k, n)
    per_class = [float(correct[labels == c].mean()) for c in np.unique(labels)]
    return {
        "num_images": n,
        "num_correct": k,
        "accuracy": k / n,
        "accuracy_ci_low": float(low),
        "accuracy_ci_high": float(high),
        "mean_per_class_accuracy": float(np.mean(per_class)),
        "classes_present": len(per_class),
    }
