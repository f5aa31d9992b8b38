"""The logit axis of effective-robustness plots, and what to do at accuracy 0 or 1.

Taori et al. (2020) found that logit(OOD accuracy) is close to linear in logit(ID
accuracy) across discriminative models; the paper's Figure 6 uses the same axes. An
accuracy of exactly 0 or 1 has no finite logit (ImageNet-A was filtered so that the
ResNet-50 used to build it scores 0). Such points are never dropped silently: the
fitting code either raises, naming the models, or excludes them and records why
(:func:`screen_boundary`).
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit
from scipy.special import logit as _scipy_logit

BoundaryPolicy = Literal["raise", "exclude"]
"""How fits treat accuracies of exactly 0 or 1: refuse (default) or exclude and record."""

POLICIES: tuple[str, ...] = ("raise", "exclude")


def _accuracies(name: str, p: ArrayLike) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN: {p!r}")
    if np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError(f"{name} must be accuracies in [0, 1] (not percentages), got {p!r}")
    return arr


def logit(p: ArrayLike) -> float | np.ndarray:
    """Log-odds ``log(p / (1 - p))`` of an accuracy.

    Args:
        p: Accuracy or accuracies in [0, 1] (fractions, not percentages).

    Returns:
        The logit; ``-inf`` at 0 and ``+inf`` at 1 (the limits, returned without a
        warning so interval bounds such as a Clopper-Pearson lower bound of 0 can be
        plotted). Fitting code must not use those values: see :func:`screen_boundary`.
        A float for scalar input, an array otherwise.

    Raises:
        ValueError: If any value is NaN or outside [0, 1].
    """
    arr = _accuracies("accuracy", p)
    out = _scipy_logit(arr)
    return float(out) if out.ndim == 0 else out


def inverse_logit(z: ArrayLike) -> float | np.ndarray:
    """Map log-odds back to an accuracy in [0, 1] (the logistic sigmoid).

    Args:
        z: Log-odds value(s); ``-inf`` / ``+inf`` map to 0 / 1.

    Returns:
        Accuracy in [0, 1]; a float for scalar input, an array otherwise.

    Raises:
        ValueError: If any value is NaN.
    """
    arr = np.asarray(z, dtype=float)
    if np.any(np.isnan(arr)):
        raise ValueError(f"log-odds contain NaN: {z!r}")
    out = expit(arr)
    return float(out) if out.ndim == 0 else out


def boundary_reason(id_accuracy: float, ood_accuracy: float) -> str | None:
    """Explain why a point has no finite logit coordinates, or return None if it has.

    Args:
        id_accuracy: In-distribution accuracy in [0, 1].
        ood_accuracy: Out-of-distribution accuracy in [0, 1].

    Returns:
        A human-readable reason such as ``"OOD accuracy is 0: logit undefined"``, or
        None when both accuracies lie strictly between 0 and 1.
    """
    parts = [
        f"{axis} accuracy is {value:g}"
        for axis, value in (("ID", float(id_accuracy)), ("OOD", float(ood_accuracy)))
        if value in (0.0, 1.0)
    ]
    if not parts:
        return None
    return " and ".join(parts) + ": logit undefined"


def check_policy(policy: str) -> None:
    """Raise a ValueError unless ``policy`` is one of :data:`POLICIES`."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


def screen_boundary(
    models: Sequence[str],
    id_accuracy: ArrayLike,
    ood_accuracy: ArrayLike,
    policy: BoundaryPolicy = "raise",
) -> tuple[np.ndarray, dict[str, str]]:
    """Find points whose ID or OOD accuracy is exactly 0 or 1, and apply ``policy``.

    Args:
        models: Model names, one per point.
        id_accuracy: ID accuracies in [0, 1].
        ood_accuracy: OOD accuracies in [0, 1].
        policy: ``"raise"`` refuses any such point; ``"exclude"`` leaves it out and
            reports it.

    Returns:
        ``(keep, excluded)``: a boolean mask of the usable points and a dict mapping
        each excluded model to the reason.

    Raises:
        ValueError: Under ``policy="raise"`` when any point sits at 0 or 1; the
            message names every such model and how to opt into exclusion.
    """
    check_policy(policy)
    x = _accuracies("ID accuracy", id_accuracy)
    y = _accuracies("OOD accuracy", ood_accuracy)
    excluded: dict[str, str] = {}
    keep = np.ones(len(models), dtype=bool)
    for i, name in enumerate(models):
        reason = boundary_reason(x[i], y[i])
        if reason is not None:
            excluded[name] = reason
            keep[i] = False
    if excluded and policy == "raise":
        listing = "; ".join(f"{m}: {r}" for m, r in excluded.items())
        raise ValueError(
            f"cannot fit in logit space, {len(excluded)} model(s) have accuracy 0 or 1 "
            f"({listing}). Pass policy='exclude' to leave them out; they are then "
            "recorded in the fit's `excluded` field."
        )
    return keep, excluded
