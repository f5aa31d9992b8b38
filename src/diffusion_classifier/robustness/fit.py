"""Linear trends of logit(OOD accuracy) on logit(ID accuracy) for discriminative models.

Effective robustness (Taori et al., 2020) is measured against the line that
discriminative models follow in logit space. :func:`fit_linear` fits one OLS line
(ImageNetV2, ObjectNet); :func:`fit_piecewise` fits the paper's ImageNet-A trend: two
independent OLS lines split at a pivot ID accuracy, with the reference model that
built the OOD set left out of both (paper Sec. 6.3.1, Fig. 6).

Minimum number of points per line: ``min_points`` defaults to 2, the number of
parameters of a line. Two points determine the line exactly but leave no residual
degree of freedom, so the standard errors are NaN (and R^2 is trivially 1); callers
that need standard errors pass ``min_points=3``. The default is 2 because the
paper's ImageNet-A split of the five torchvision ResNets leaves exactly two models
per side (ResNet-18/34 below the ResNet-50 pivot, ResNet-101/152 above it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from .logit import (
    BoundaryPolicy,
    boundary_reason,
    check_policy,
    inverse_logit,
    logit,
    screen_boundary,
)

Piece = Literal["all", "lower", "upper"]

MIN_POINTS: int = 2
"""Default minimum number of fitted points per line (= parameters of a line)."""



def _piece_label(piece: str, pivot: float | None) -> str:
    """Human-readable name of a line for error messages."""
    if piece == "lower":
        return f"lower piece (ID accuracy < pivot {pivot:g})"
    if piece == "upper":
        return f"upper piece (ID accuracy >= pivot {pivot:g})"
    return "linear fit"


def _finite_or_none(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _check_prediction_input(id_accuracy: ArrayLike) -> np.ndarray:
    arr = np.asarray(id_accuracy, dtype=float)
    bad = np.isnan(arr) | (arr <= 0.0) | (arr >= 1.0)
    if np.any(bad):
        raise ValueError(
            f"ID accuracy must lie strictly between 0 and 1 to be predicted from "
            f"(its logit is undefined otherwise), got {id_accuracy!r}"
        )
    return arr


@dataclass(frozen=True)
class LinearFit:
    """One OLS line ``logit(OOD) = intercept + slope * logit(ID)``.

    Attributes:
        slope: Slope in logit space.
        intercept: Intercept in logit space.
        slope_stderr: Standard error of the slope; NaN when ``n == 2`` (no residual
            degree of freedom).
        intercept_stderr: Standard error of the intercept; NaN when ``n == 2``.
        r2: Coefficient of determination (1 for two points; NaN if all OOD logits
            are equal).
        n: Number of points fitted.
        models: Names of the models fitted, in input order.
        excluded: Models of this piece left out of the fit, mapped to the reason.
        domain: ``(lo, hi)`` interval of logit(ID) on which this line applies:
            ``(-inf, inf)`` for a single fit, split at logit(pivot) for a piece.
        data_range: ``(min, max)`` of logit(ID) over the fitted points, i.e. where
            the line is supported by data rather than extrapolated.
        piece: ``"all"`` for a single fit, ``"lower"`` / ``"upper"`` for a piece.
    """

    slope: float
    intercept: float
    slope_stderr: float
    intercept_stderr: float
    r2: float
    n: int
    models: tuple[str, ...]
    excluded: Mapping[str, str] = field(default_factory=dict)
    domain: tuple[float, float] = (-math.inf, math.inf)
    data_range: tuple[float, float] = (math.nan, math.nan)
    piece: Piece = "all"

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", MappingProxyType(dict(self.excluded)))

    @property
    def dof_resid(self) -> int:
        """Residual degrees of freedom, ``n - 2``."""
        return self.n - 2

    def predict_logit(self, logit_id: ArrayLike) -> float | np.ndarray:
        """Predicted logit(OOD) for logit(ID) value(s)."""
        out = self.intercept + self.slope * np.asarray(logit_id, dtype=float)
        return float(out) if np.ndim(out) == 0 else out

    def predict(self, id_accuracy: ArrayLike) -> float | np.ndarray:
        """Predicted OOD accuracy (in [0, 1]) for ID accuracy, via the inverse logit.

        Args:
            id_accuracy: ID accuracy or accuracies, strictly between 0 and 1.

        Returns:
            The OOD accuracy the discriminative trend predicts; float for scalars.

        Raises:
            ValueError: If an ID accuracy is 0, 1, NaN or outside [0, 1].
        """
        x = _check_prediction_input(id_accuracy)
        return inverse_logit(self.predict_logit(logit(x)))

    def piece_for(self, id_accuracy: ArrayLike) -> str | np.ndarray:
        """Name of the line used for ``id_accuracy``: always :attr:`piece` here."""
        arr = np.asarray(id_accuracy, dtype=float)
        return self.piece if arr.ndim == 0 else np.full(arr.shape, self.piece, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (infinite or NaN numbers become None)."""
        return {
            "piece": self.piece,
            "slope": self.slope,
            "intercept": self.intercept,
            "slope_stderr": _finite_or_none(self.slope_stderr),
            "intercept_stderr": _finite_or_none(self.intercept_stderr),
            "r2": _finite_or_none(self.r2),
            "n": self.n,
            "dof_resid": self.dof_resid,
            "models": list(self.models),
            "excluded": dict(self.excluded),
            "domain_logit_id": [_finite_or_none(v) for v in self.domain],
            "data_range_logit_id": [_finite_or_none(v) for v in self.data_range],
        }


@dataclass(frozen=True)
class PiecewiseFit:
    """Two independent OLS lines split at a pivot ID accuracy.

    A model with ID accuracy ``< pivot`` is on the ``lower`` line, otherwise on the
    ``upper`` line (the pivot itself belongs to ``upper``).

    Attributes:
        lower: Line fitted on models with ID accuracy below the pivot.
        upper: Line fitted on models with ID accuracy at or above the pivot.
        pivot: Pivot ID accuracy in (0, 1); in the paper, 0.9186, the 200-class ID
            accuracy of the ResNet-50 that ImageNet-A was filtered against.
        reference: Model left out of both lines because the OOD set was built
            against it (None if no reference was given).
        excluded: Every model left out of either line, mapped to the reason
            (the reference included).
    """

    lower: LinearFit
    upper: LinearFit
    pivot: float
    reference: str | None = None
    excluded: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", MappingProxyType(dict(self.excluded)))

    @property
    def models(self) -> tuple[str, ...]:
        """Names of all fitted models, lower piece first."""
        return self.lower.models + self.upper.models

    def piece_for(self, id_accuracy: ArrayLike) -> str | np.ndarray:
        """``"lower"`` or ``"upper"``: the side of the pivot ``id_accuracy`` is on."""
        arr = np.asarray(id_accuracy, dtype=float)
        out = np.where(arr < self.pivot, "lower", "upper").astype(object)
        return str(out) if arr.ndim == 0 else out

    def line_for(self, id_accuracy: float) -> LinearFit:
        """The :class:`LinearFit` used for a scalar ID accuracy."""
        return self.lower if float(id_accuracy) < self.pivot else self.upper

    def predict(self, id_accuracy: ArrayLike) -> float | np.ndarray:
        """Predicted OOD accuracy, each point using the line on its side of the pivot.

        Raises:
            ValueError: If an ID accuracy is 0, 1, NaN or outside [0, 1].
        """
        x = _check_prediction_input(id_accuracy)
        out = np.where(x < self.pivot, self.lower.predict(x), self.upper.predict(x))
        return float(out) if out.ndim == 0 else out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters of both pieces, the pivot and the exclusions."""
        return {
            "pivot": self.pivot,
            "reference": self.reference,
            "excluded": dict(self.excluded),
            "lower": self.lower.to_dict(),
            "upper": self.upper.to_dict(),
        }


TrendFit = Union[LinearFit, PiecewiseFit]
"""Either kind of fit; both expose ``predict``, ``piece_for``, ``models``, ``excluded``."""


def _validate_points(
    id_accuracy: ArrayLike, ood_accuracy: ArrayLike, models: Sequence[str], min_points: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.asarray(id_accuracy, dtype=float).ravel()
    y = np.asarray(ood_accuracy, dtype=float).ravel()
    names = [str(m) for m in models]
    if not (len(x) == len(y) == len(names)):
        raise ValueError(
            f"id_accuracy, ood_accuracy and models differ in length: "
            f"{len(x)}, {len(y)}, {len(names)}"
        )
    duplicates = sorted({m for m in names if names.count(m) > 1})
    if duplicates:
        raise ValueError(f"model names must be unique, repeated: {duplicates}")
    if isinstance(min_points, bool) or not isinstance(min_points, (int, np.integer)) or min_points < 2:
        raise ValueError(f"min_points must be an integer >= 2 (a line has 2 parameters), got {min_points!r}")
    for label, arr in (("ID accuracy", x), ("OOD accuracy", y)):
        if np.any(np.isnan(arr)) or np.any((arr < 0) | (arr > 1)):
            raise ValueError(f"{label} must be in [0, 1] (fractions, not percentages), got {arr.tolist()}")
    return x, y, names


def _ols_line(
    x_acc: np.ndarray,
    y_acc: np.ndarray,
    names: list[str],
    *,
    piece: Piece,
    domain: tuple[float, float],
    excluded: Mapping[str, str],
    min_points: int,
    pivot: float | None = None,
) -> LinearFit:
    """Fit one line on points already screened for accuracies of 0 and 1."""
    n = len(names)
    label = _piece_label(piece, pivot)
    if n < min_points:
        note = f"; excluded from it: {dict(excluded)}" if excluded else ""
        raise ValueError(
            f"{label}: {n} point(s) given ({', '.join(names) or 'none'}), at least "
            f"{min_points} needed (a line has 2 parameters; min_points={min_points}){note}"
        )
    lx = np.asarray(logit(x_acc), dtype=float)
    ly = np.asarray(logit(y_acc), dtype=float)
    if np.ptp(lx) == 0.0:
        raise ValueError(
            f"{label}: all {n} models ({', '.join(names)}) have the same ID accuracy, "
            "so the slope is not identifiable"
        )
    # statsmodels is imported on first fit: it costs ~0.5 s, and most importers of this
    # package (score aggregation, tables) only need the confidence intervals.
    from statsmodels.regression.linear_model import OLS

    design = np.column_stack([np.ones(n), lx])
    result = OLS(ly, design).fit()
    intercept, slope = (float(v) for v in result.params)
    if n > 2:
        intercept_se, slope_se = (float(v) for v in result.bse)
    else:
        intercept_se = slope_se = math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = float(result.rsquared) if np.ptp(ly) > 0 else math.nan
    return LinearFit(
        slope=slope,
        intercept=intercept,
        slope_stderr=slope_se,
        intercept_stderr=intercept_se,
        r2=r2,
        n=n,
        models=tuple(names),
        excluded=excluded,
        domain=domain,
        data_range=(float(lx.min()), float(lx.max())),
        piece=piece,
    )


def fit_linear(
    id_accuracy: ArrayLike,
    ood_accuracy: ArrayLike,
    models: Sequence[str],
    *,
    policy: BoundaryPolicy = "raise",
    min_points: int = MIN_POINTS,
) -> LinearFit:
    """OLS of logit(OOD accuracy) on logit(ID accuracy) (statsmodels OLS).

    Args:
        id_accuracy: ID accuracies in [0, 1], one per model.
        ood_accuracy: OOD accuracies in [0, 1], one per model.
        models: Unique model names, used in errors and recorded in the result.
        policy: What to do with accuracies of exactly 0 or 1 (undefined logit):
            ``"raise"`` (default) or ``"exclude"`` (recorded in ``excluded``).
        min_points: Minimum number of fitted points (>= 2; see module docstring).

    Returns:
        The fitted :class:`LinearFit` with ``piece == "all"``.

    Raises:
        ValueError: On malformed input, on accuracies of 0 or 1 under
            ``policy="raise"``, on fewer than ``min_points`` usable points, or when
            all ID accuracies are equal.
    """
    x, y, names = _validate_points(id_accuracy, ood_accuracy, models, min_points)
    keep, excluded = screen_boundary(names, x, y, policy)
    return _ols_line(
        x[keep],
        y[keep],
        [m for m, k in zip(names, keep) if k],
        piece="all",
        domain=(-math.inf, math.inf),
        excluded=excluded,
        min_points=min_points,
    )


def fit_piecewise(
    id_accuracy: ArrayLike,
    ood_accuracy: ArrayLike,
    models: Sequence[str],
    *,
    pivot: float,
    reference: str | None = None,
    policy: BoundaryPolicy = "raise",
    min_points: int = MIN_POINTS,
) -> PiecewiseFit:
    """Two independent OLS lines in logit space, split at ``pivot`` ID accuracy.

    The ``reference`` model is removed first (it is recorded in ``excluded`` and
    never triggers ``policy``), then accuracies of 0 or 1 are handled by ``policy``,
    then models with ID accuracy ``< pivot`` form the lower line and the rest the
    upper line.

    Args:
        id_accuracy: ID accuracies in [0, 1], one per model.
        ood_accuracy: OOD accuracies in [0, 1], one per model.
        models: Unique model names.
        pivot: ID accuracy in (0, 1) where the trend breaks.
        reference: Name of the model the OOD set was built against; must be in
            ``models`` if given. It is left out of both lines.
        policy: ``"raise"`` (default) or ``"exclude"`` for accuracies of 0 or 1.
        min_points: Minimum number of fitted points per line (>= 2).

    Returns:
        The :class:`PiecewiseFit`.

    Raises:
        ValueError: On malformed input, an unknown ``reference``, a pivot outside
            (0, 1), accuracies of 0 or 1 under ``policy="raise"``, or a piece with
            fewer than ``min_points`` usable points (the message names the piece).
    """
    check_policy(policy)
    x, y, names = _validate_points(id_accuracy, ood_accuracy, models, min_points)
    pivot = float(pivot)
    if not 0.0 < pivot < 1.0:
        raise ValueError(f"pivot must be an ID accuracy in (0, 1), got {pivot!r}")
    excluded: dict[str, str] = {}
    is_ref = np.zeros(len(names), dtype=bool)
    if reference is not None:
        if reference not in names:
            raise ValueError(f"reference model {reference!r} is not among the models: {names}")
        i = names.index(reference)
        is_ref[i] = True
        reason = "reference model: the OOD set was built against it, so it is left out of both lines"
        extra = boundary_reason(x[i], y[i])
        excluded[reference] = reason + (f" (also {extra})" if extra else "")
    rest = ~is_ref
    rest_names = [m for m, r in zip(names, rest) if r]
    keep_rest, boundary = screen_boundary(rest_names, x[rest], y[rest], policy)
    excluded.update(boundary)
    keep = np.zeros(len(names), dtype=bool)
    keep[np.flatnonzero(rest)[keep_rest]] = True

    below = x < pivot
    cut = float(logit(pivot))
    pieces: dict[str, LinearFit] = {}
    for piece, side, domain in (
        ("lower", below, (-math.inf, cut)),
        ("upper", ~below, (cut, math.inf)),
    ):
        mask = keep & side
        piece_excluded = {m: r for m, r in boundary.items() if side[names.index(m)]}
        pieces[piece] = _ols_line(
            x[mask],
            y[mask],
            [m for m, k in zip(names, mask) if k],
            piece=piece,  # type: ignore[arg-type]
            domain=domain,
            excluded=piece_excluded,
            min_points=min_points,
            pivot=pivot,
        )
    return PiecewiseFit(
        lower=pieces["lower"],
        upper=pieces["upper"],
        pivot=pivot,
        reference=reference,
        excluded=excluded,
    )
