"""Table-level effective robustness: per-model rows in, fit and per-model results out.

Input is one row per model with raw counts, so that Clopper-Pearson intervals are
exact::

    model | family | id_correct | id_total | ood_correct | ood_total

``family`` is ``"discriminative"`` (fitted: they define the trend) or
``"diffusion"`` (only evaluated against the trend). Other column prefixes than
``id`` / ``ood`` can be chosen, e.g. ``val_correct`` / ``imagenet_a_correct`` via
``id_prefix="val", ood_prefix="imagenet_a"``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from .effective import effective_robustness
from .fit import MIN_POINTS, LinearFit, PiecewiseFit, TrendFit, fit_linear, fit_piecewise
from .intervals import DEFAULT_ALPHA, clopper_pearson
from .logit import BoundaryPolicy, check_policy, logit

FAMILIES: tuple[str, ...] = ("discriminative", "diffusion")
"""Allowed values of the ``family`` column; only the first is fitted."""


def _columns(prefix: str) -> tuple[str, str]:
    return f"{prefix}_correct", f"{prefix}_total"


def validate_table(df: pd.DataFrame, id_prefix: str = "id", ood_prefix: str = "ood") -> None:
    """Check the per-model input table and raise a ValueError describing any problem.

    Args:
        df: One row per model (see module docstring).
        id_prefix: Prefix of the ID count columns.
        ood_prefix: Prefix of the OOD count columns.

    Raises:
        ValueError: On missing columns, missing values, repeated model names, an
            unknown family, non-integral counts, ``total <= 0`` or
            ``correct > total``.
    """
    required = ["model", "family", *_columns(id_prefix), *_columns(ood_prefix)]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; it has {list(df.columns)}")
    if df[required].isna().any().any():
        holes = df[required].columns[df[required].isna().any()].tolist()
        raise ValueError(f"table has missing values in column(s) {holes}")
    repeated = df["model"][df["model"].duplicated()].tolist()
    if repeated:
        raise ValueError(f"model names must be unique, repeated: {repeated}")
    unknown = sorted(set(df["family"]) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown family value(s) {unknown}; allowed: {list(FAMILIES)}")
    for prefix in (id_prefix, ood_prefix):
        correct_col, total_col = _columns(prefix)
        correct = df[correct_col].to_numpy(dtype=float)
        total = df[total_col].to_numpy(dtype=float)
        if np.any(correct != np.round(correct)) or np.any(total != np.round(total)):
            raise ValueError(f"{correct_col} / {total_col} must be whole numbers of images")
        bad = (total <= 0) | (correct < 0) | (correct > total)
        if np.any(bad):
            raise ValueError(
                f"need 0 <= {correct_col} <= {total_col} and {total_col} > 0; "
                f"violated for {df['model'][bad].tolist()}"
            )


def _accuracy(df: pd.DataFrame, prefix: str) -> np.ndarray:
    correct_col, total_col = _columns(prefix)
    return df[correct_col].to_numpy(dtype=float) / df[total_col].to_numpy(dtype=float)


def fit_discriminative(
    df: pd.DataFrame,
    *,
    id_prefix: str = "id",
    ood_prefix: str = "ood",
    pivot: float | None = None,
    reference: str | None = None,
    policy: BoundaryPolicy = "raise",
    min_points: int = MIN_POINTS,
) -> TrendFit:
    """Fit the discriminative trend of a per-model table.

    Only rows with ``family == "discriminative"`` are used. With neither ``pivot``
    nor ``reference`` a single line is fitted; otherwise a piecewise fit. If only
    ``reference`` is given, the pivot is its ID accuracy in the table (the paper's
    rule: the ResNet-50 that built ImageNet-A, 0.9186 on the 200-class subset).

    Args:
        df: Per-model table (see module docstring).
        id_prefix: Prefix of the ID count columns.
        ood_prefix: Prefix of the OOD count columns.
        pivot: ID accuracy where the trend breaks, or None.
        reference: Discriminative model left out of a piecewise fit, or None.
        policy: ``"raise"`` or ``"exclude"`` for accuracies of 0 or 1.
        min_points: Minimum number of fitted points per line (>= 2).

    Returns:
        A :class:`~.fit.LinearFit` or :class:`~.fit.PiecewiseFit`.

    Raises:
        ValueError: On an invalid table, a reference that is not a discriminative
            row, or any error of :func:`~.fit.fit_linear` / :func:`~.fit.fit_piecewise`.
    """
    validate_table(df, id_prefix, ood_prefix)
    disc = df[df["family"] == "discriminative"]
    models = disc["model"].astype(str).tolist()
    x, y = _accuracy(disc, id_prefix), _accuracy(disc, ood_prefix)
    if reference is not None and reference not in models:
        raise ValueError(f"reference {reference!r} is not a discriminative model of the table: {models}")
    if pivot is None and reference is None:
        return fit_linear(x, y, models, policy=policy, min_points=min_points)
    if pivot is None:
        pivot = float(x[models.index(reference)])
    return fit_piecewise(
        x, y, models, pivot=pivot, reference=reference, policy=policy, min_points=min_points
    )


def robustness_table(
    df: pd.DataFrame,
    fit: TrendFit | None = None,
    *,
    id_prefix: str = "id",
    ood_prefix: str = "ood",
    pivot: float | None = None,
    reference: str | None = None,
    policy: BoundaryPolicy = "raise",
    min_points: int = MIN_POINTS,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Per-model accuracies, intervals, predicted OOD accuracy and effective robustness.

    Args:
        df: Per-model table (see module docstring).
        fit: A trend already fitted (e.g. by :func:`fit_discriminative`); if None it
            is fitted here from ``pivot``, ``reference``, ``policy``, ``min_points``.
        id_prefix: Prefix of the ID count columns.
        ood_prefix: Prefix of the OOD count columns.
        pivot: See :func:`fit_discriminative`; only when ``fit`` is None.
        reference: See :func:`fit_discriminative`; only when ``fit`` is None.
        policy: For fitting (when ``fit`` is None) and for prediction: a row whose
            ID accuracy is 0 or 1 cannot be predicted from; ``"raise"`` refuses it,
            ``"exclude"`` leaves NaN and says why in ``prediction_note``.
        min_points: See :func:`fit_discriminative`; only when ``fit`` is None.
        alpha: Two-sided level of the Clopper-Pearson intervals (0.005 = 99.5%).

    Returns:
        One row per input model, in input order, with columns ``model``,
        ``family``; for ``p`` in (``id``, ``ood``): ``p_correct``, ``p_total``,
        ``p_accuracy``, ``p_ci_low``, ``p_ci_high`` (accuracy, [0, 1]),
        ``p_logit``, ``p_logit_ci_low``, ``p_logit_ci_high`` (logit of the same,
        +-inf at 0 / 1); then ``in_fit`` (bool), ``fit_note`` (why a model is not
        in the fit, "" if it is), ``piece`` (line used: "all", "lower", "upper"),
        ``predicted_ood_accuracy`` ([0, 1]), ``effective_robustness`` (accuracy
        points) and ``prediction_note``. Output columns always use the ``id`` /
        ``ood`` names whatever the input prefixes.

    Raises:
        ValueError: On an invalid table, a fit given together with fitting
            arguments, fitting errors, or (``policy="raise"``) a row whose ID
            accuracy is 0 or 1.
    """
    check_policy(policy)
    validate_table(df, id_prefix, ood_prefix)
    if fit is None:
        fit = fit_discriminative(
            df,
            id_prefix=id_prefix,
            ood_prefix=ood_prefix,
            pivot=pivot,
            reference=reference,
            policy=policy,
            min_points=min_points,
        )
    elif pivot is not None or reference is not None:
        raise ValueError("pass either a fitted `fit` or `pivot`/`reference` to fit one, not both")

    out = pd.DataFrame({"model": df["model"].astype(str).to_numpy(), "family": df["family"].to_numpy()})
    for in_prefix, out_prefix in ((id_prefix, "id"), (ood_prefix, "ood")):
        correct_col, total_col = _columns(in_prefix)
        correct = df[correct_col].to_numpy(dtype=float).astype(np.int64)
        total = df[total_col].to_numpy(dtype=float).astype(np.int64)
        low, high = clopper_pearson(correct, total, alpha=alpha)
        acc = correct / total
        out[f"{out_prefix}_correct"] = correct
        out[f"{out_prefix}_total"] = total
        out[f"{out_prefix}_accuracy"] = acc
        out[f"{out_prefix}_ci_low"] = low
        out[f"{out_prefix}_ci_high"] = high
        out[f"{out_prefix}_logit"] = logit(acc)
        out[f"{out_prefix}_logit_ci_low"] = logit(low)
        out[f"{out_prefix}_logit_ci_high"] = logit(high)

    fitted = set(fit.models)
    out["in_fit"] = out["model"].isin(fitted)
    notes = []
    for name, family in zip(out["model"], out["family"]):
        if name in fitted:
            notes.append("")
        elif name in fit.excluded:
            notes.append(fit.excluded[name])
        elif family != "discriminative":
            notes.append(f"{family} model: evaluated against the discriminative trend, not fitted")
        else:
            notes.append("not in the supplied fit")
    out["fit_note"] = notes

    id_acc = out["id_accuracy"].to_numpy()
    ood_acc = out["ood_accuracy"].to_numpy()
    predictable = (id_acc > 0.0) & (id_acc < 1.0)
    if policy == "raise" and not predictable.all():
        bad = out.loc[~predictable, ["model", "id_accuracy"]].to_records(index=False).tolist()
        raise ValueError(
            f"cannot predict OOD accuracy for model(s) with ID accuracy 0 or 1 (logit undefined): "
            f"{bad}. Pass policy='exclude' to report them with NaN and a note."
        )
    predicted = np.full(len(out), math.nan)
    er = np.full(len(out), math.nan)
    if predictable.any():
        predicted[predictable] = fit.predict(id_acc[predictable])
        er[predictable] = effective_robustness(fit, id_acc[predictable], ood_acc[predictable])
    out["piece"] = [str(fit.piece_for(a)) for a in id_acc]
    out["predicted_ood_accuracy"] = predicted
    out["effective_robustness"] = er
    out["prediction_note"] = np.where(
        predictable, "", "ID accuracy is 0 or 1: logit undefined, no prediction"
    )
    return out


def fit_parameters(fit: TrendFit) -> pd.DataFrame:
    """Fit parameters as a table, one row per line, for saving as an artifact.

    Args:
        fit: A :class:`~.fit.LinearFit` or :class:`~.fit.PiecewiseFit`.

    Returns:
        Columns ``piece``, ``slope``, ``intercept``, ``slope_stderr``,
        ``intercept_stderr``, ``r2``, ``n``, ``dof_resid``, ``models``
        (";"-separated), ``domain_logit_lo`` / ``_hi``, ``data_logit_lo`` / ``_hi``,
        ``pivot_id_accuracy`` (NaN for a single line), ``reference`` ("" if none) and
        ``excluded`` ("model: reason" entries, ";"-separated, covering every
        exclusion of the whole fit, the reference included).
    """
    if isinstance(fit, PiecewiseFit):
        lines: Sequence[LinearFit] = (fit.lower, fit.upper)
        pivot, reference, excluded = fit.pivot, fit.reference or "", dict(fit.excluded)
    elif isinstance(fit, LinearFit):
        lines = (fit,)
        pivot, reference, excluded = math.nan, "", dict(fit.excluded)
    else:
        raise TypeError(f"expected LinearFit or PiecewiseFit, got {type(fit).__name__}")
    excluded_text = "; ".join(f"{m}: {r}" for m, r in excluded.items())
    rows = [
        {
            "piece": line.piece,
            "slope": line.slope,
            "intercept": line.intercept,
            "slope_stderr": line.slope_stderr,
            "intercept_stderr": line.intercept_stderr,
            "r2": line.r2,
            "n": line.n,
            "dof_resid": line.dof_resid,
            "models": ";".join(line.models),
            "domain_logit_lo": line.domain[0],
            "domain_logit_hi": line.domain[1],
            "data_logit_lo": line.data_range[0],
            "data_logit_hi": line.data_range[1],
            "pivot_id_accuracy": pivot,
            "reference": reference,
            "excluded": excluded_text,
        }
        for line in lines
    ]
    return pd.DataFrame(rows)
