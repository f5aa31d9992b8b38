"""Effective robustness: OOD accuracy above what the discriminative trend predicts.

Following Taori et al. (2020) and the paper (Sec. 6.3.1), effective robustness is
``OOD accuracy - inverse_logit(fit(logit(ID accuracy)))``, reported in accuracy
points (percentage points), using the line on the model's side of the pivot for a
piecewise fit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .fit import TrendFit


def effective_robustness(
    fit: TrendFit, id_accuracy: ArrayLike, ood_accuracy: ArrayLike
) -> float | np.ndarray:
    """Effective robustness of model(s) against a fitted trend, in accuracy points.

    Args:
        fit: A :class:`~.fit.LinearFit` or :class:`~.fit.PiecewiseFit`.
        id_accuracy: ID accuracy in (0, 1) (fraction, not percent).
        ood_accuracy: OOD accuracy in [0, 1]; 0 and 1 are allowed here since only
            the ID accuracy goes through the logit.

    Returns:
        ``(ood_accuracy - fit.predict(id_accuracy)) * 100``: e.g. 15.0 means the OOD
        accuracy is 15 percentage points above the trend. Float for scalar input.

    Raises:
        ValueError: If the OOD accuracy is NaN or outside [0, 1], or the ID accuracy
            is 0, 1, NaN or outside [0, 1] (no prediction possible).
    """
    ood = np.asarray(ood_accuracy, dtype=float)
    if np.any(np.isnan(ood)) or np.any((ood < 0) | (ood > 1)):
        raise ValueError(f"OOD accuracy must be in [0, 1] (fraction, not percent), got {ood_accuracy!r}")
    out = (ood - np.asarray(fit.predict(id_accuracy), dtype=float)) * 100.0
    return float(out) if np.ndim(out) == 0 else out
