"""Linear and piecewise logit-space fits on the published ResNet accuracies.

Every number is checked against an independent computation written here: numpy
closed-form least squares on ``np.log(p / (1 - p))`` (never statsmodels), or the
two-point line through hand-picked points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffusion_classifier.robustness import (
    LinearFit,
    PiecewiseFit,
    effective_robustness,
    fit_linear,
    fit_piecewise,
)

PIVOT = 0.9186


def np_logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / (1.0 - p))


def closed_form_ols(x_acc, y_acc):
    """Slope, intercept, their standard errors and R^2 by the textbook formulas."""
    x, y = np_logit(x_acc), np_logit(y_acc)
    n = len(x)
    sxx = np.sum((x - x.mean()) ** 2)
    slope = np.sum((x - x.mean()) * (y - y.mean())) / sxx
    intercept = y.mean() - slope * x.mean()
    resid = y - (intercept + slope * x)
    s2 = np.sum(resid**2) / (n - 2)
    se_slope = math.sqrt(s2 / sxx)
    se_intercept = math.sqrt(s2 * (1.0 / n + x.mean() ** 2 / sxx))
    r2 = 1.0 - np.sum(resid**2) / np.sum((y - y.mean()) ** 2)
    return slope, intercept, se_slope, se_intercept, r2


def two_point_line(p1, p2):
    """Slope and intercept in logit space through two (ID, OOD) accuracy points."""
    (x1, y1), (x2, y2) = [(math.log(a / (1 - a)), math.log(b / (1 - b))) for a, b in (p1, p2)]
    slope = (y2 - y1) / (x2 - x1)
    return slope, y1 - slope * x1


def expected_er(slope, intercept, id_acc, ood_acc):
    z = intercept + slope * math.log(id_acc / (1 - id_acc))
    return (ood_acc - 1.0 / (1.0 + math.exp(-z))) * 100.0


@pytest.mark.parametrize("id_col,ood_col", [("val", "v2"), ("val_objectnet", "objectnet")])
def test_linear_fit_matches_closed_form(resnets, id_col, ood_col) -> None:
    names = list(resnets)
    x = np.array([resnets[m][id_col] for m in names])
    y = np.array([resnets[m][ood_col] for m in names])
    fit = fit_linear(x, y, names)
    slope, intercept, se_slope, se_intercept, r2 = closed_form_ols(x, y)
    assert isinstance(fit, LinearFit)
    assert fit.slope == pytest.approx(slope, abs=1e-9)
    assert fit.intercept == pytest.approx(intercept, abs=1e-9)
    assert fit.slope_stderr == pytest.approx(se_slope, abs=1e-9)
    assert fit.intercept_stderr == pytest.approx(se_intercept, abs=1e-9)
    assert fit.r2 == pytest.approx(r2, abs=1e-9)
    assert fit.n == 5 and fit.dof_resid == 3 and fit.models == tuple(names)
    assert fit.excluded == {} and fit.piece == "all"
    assert fit.data_range == pytest.approx((np_logit(x).min(), np_logit(x).max()), abs=1e-12)
    # Effective robustness of every ResNet, in accuracy points.
    for m in names:
        id_acc, ood_acc = resnets[m][id_col], resnets[m][ood_col]
        got = effective_robustness(fit, id_acc, ood_acc)
        assert got == pytest.approx(expected_er(slope, intercept, id_acc, ood_acc), abs=1e-9)
    # A synthetic diffusion model off the trend.
    expected = expected_er(slope, intercept, 0.65, 0.55)
    assert effective_robustness(fit, 0.65, 0.55) == pytest.approx(expected, abs=1e-9)


def test_v2_fit_is_close_to_the_known_trend(resnets) -> None:
    """Sanity on magnitudes: the V2 trend is nearly slope 1 and ResNets sit on it."""
    names = list(resnets)
    fit = fit_linear([resnets[m]["val"] for m in names], [resnets[m]["v2"] for m in names], names)
    assert 0.8 < fit.slope < 1.3
    assert fit.r2 > 0.98
    for m in names:
        assert abs(effective_robustness(fit, resnets[m]["val"], resnets[m]["v2"])) < 1.0


def test_predict_returns_accuracy_and_vectorises(resnets) -> None:
    names = list(resnets)
    fit = fit_linear([resnets[m]["val"] for m in names], [resnets[m]["v2"] for m in names], names)
    z = fit.intercept + fit.slope * math.log(0.75 / 0.25)
    assert fit.predict(0.75) == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-12)
    arr = fit.predict(np.array([0.7, 0.75]))
    assert arr.shape == (2,) and arr[1] == pytest.approx(fit.predict(0.75), abs=1e-15)
    for bad in (0.0, 1.0, math.nan):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            fit.predict(bad)


def _imagenet_a(resnets, drop=()):
    names = [m for m in resnets if m not in drop]
    return (
        names,
        [resnets[m]["val_a"] for m in names],
        [resnets[m]["a"] for m in names],
    )


def test_piecewise_pieces_and_reference(resnets) -> None:
    names, x, y = _imagenet_a(resnets)
    fit = fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")
    assert isinstance(fit, PiecewiseFit)
    assert fit.lower.models == ("resnet18", "resnet34")
    assert fit.upper.models == ("resnet101", "resnet152")
    assert "resnet50" not in fit.models
    assert set(fit.excluded) == {"resnet50"}
    assert "reference model" in fit.excluded["resnet50"]
    assert "OOD accuracy is 0" in fit.excluded["resnet50"]
    assert fit.reference == "resnet50" and fit.pivot == PIVOT
    # Each piece is the exact line through its two points.
    for line, (a, b) in ((fit.lower, ("resnet18", "resnet34")), (fit.upper, ("resnet101", "resnet152"))):
        slope, intercept = two_point_line(
            (resnets[a]["val_a"], resnets[a]["a"]), (resnets[b]["val_a"], resnets[b]["a"])
        )
        assert line.slope == pytest.approx(slope, abs=1e-9)
        assert line.intercept == pytest.approx(intercept, abs=1e-9)
        assert line.n == 2 and line.dof_resid == 0
        assert math.isnan(line.slope_stderr) and math.isnan(line.intercept_stderr)
    cut = math.log(PIVOT / (1 - PIVOT))
    assert fit.lower.domain == (-math.inf, pytest.approx(cut))
    assert fit.upper.domain == (pytest.approx(cut), math.inf)


def test_piecewise_side_of_pivot(resnets) -> None:
    names, x, y = _imagenet_a(resnets)
    fit = fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")
    assert fit.piece_for(0.9185) == "lower"
    assert fit.piece_for(PIVOT) == "upper"  # the pivot belongs to the upper line
    assert list(fit.piece_for(np.array([0.5, 0.95]))) == ["lower", "upper"]
    assert fit.predict(PIVOT) == pytest.approx(fit.upper.predict(PIVOT), abs=1e-15)
    assert fit.predict(0.9185) == pytest.approx(fit.lower.predict(0.9185), abs=1e-15)
    both = fit.predict(np.array([0.88, 0.95]))
    assert both[0] == pytest.approx(fit.lower.predict(0.88))
    assert both[1] == pytest.approx(fit.upper.predict(0.95))


def test_effective_robustness_of_synthetic_diffusion_points(resnets) -> None:
    names, x, y = _imagenet_a(resnets)
    fit = fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")
    # Below the pivot: the line through resnet18 (87.39, 1.15) and resnet34 (89.95, 1.87).
    slope, intercept = two_point_line((0.8739, 0.0115), (0.8995, 0.0187))
    expected_low = expected_er(slope, intercept, 0.80, 0.20)
    assert effective_robustness(fit, 0.80, 0.20) == pytest.approx(expected_low, abs=1e-9)
    # By hand: slope ~1.9293, intercept ~-8.1887, logit(0.8) = ln 4, prediction ~0.40%.
    assert expected_low == pytest.approx(19.599, abs=1e-3)
    # Above the pivot: the line through resnet101 and resnet152.
    slope_u, intercept_u = two_point_line((0.9280, 0.0472), (0.9331, 0.0605))
    expected_high = expected_er(slope_u, intercept_u, 0.95, 0.30)
    assert effective_robustness(fit, 0.95, 0.30) == pytest.approx(expected_high, abs=1e-9)
    # The fitted ResNets lie on their (exact) lines.
    for m in ("resnet18", "resnet34", "resnet101", "resnet152"):
        assert effective_robustness(fit, resnets[m]["val_a"], resnets[m]["a"]) == pytest.approx(0.0, abs=1e-9)


def test_two_points_per_piece_is_allowed_by_default(resnets) -> None:
    """Documented minimum: 2 points per line (default); the 5-ResNet split has 2 + 2."""
    names, x, y = _imagenet_a(resnets)
    fit = fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")
    assert fit.upper.n == 2 and fit.lower.n == 2


def test_min_points_three_refuses_the_upper_piece(resnets) -> None:
    names, x, y = _imagenet_a(resnets)
    # Give the lower piece a third model so the upper piece is the one that fails.
    names, x, y = names + ["extra_lower"], x + [0.85], y + [0.008]
    with pytest.raises(
        ValueError,
        match=(
            r"upper piece \(ID accuracy >= pivot 0\.9186\): "
            r"2 point\(s\) given \(resnet101, resnet152\), at least 3 needed"
        ),
    ):
        fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50", min_points=3)
    fit = fit_piecewise(x[:-1] + [0.80], y[:-1] + [0.004], names, pivot=PIVOT, reference="resnet50")
    assert fit.lower.n == 3 and not math.isnan(fit.lower.slope_stderr)


def test_piece_with_one_point_raises_and_names_it(resnets) -> None:
    names, x, y = _imagenet_a(resnets, drop=("resnet152",))
    with pytest.raises(ValueError, match=r"upper piece.*1 point\(s\) given \(resnet101\), at least 2 needed"):
        fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")
    names, x, y = _imagenet_a(resnets, drop=("resnet18",))
    with pytest.raises(ValueError, match=r"lower piece.*1 point\(s\) given \(resnet34\)"):
        fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")


def test_linear_fit_with_fewer_points_than_parameters_raises() -> None:
    with pytest.raises(ValueError, match=r"linear fit: 1 point\(s\) given \(only\), at least 2 needed"):
        fit_linear([0.7], [0.5], ["only"])
    with pytest.raises(ValueError, match=r"0 point\(s\) given"):
        fit_linear([], [], [])
    # Exclusions count: two models, one at accuracy 0, leaves one point.
    with pytest.raises(ValueError, match=r"1 point\(s\) given.*excluded from it.*zero"):
        fit_linear([0.7, 0.75], [0.5, 0.0], ["a", "zero"], policy="exclude")


@pytest.mark.parametrize("min_points", [0, 1, 2.5, True])
def test_min_points_below_two_is_refused(min_points) -> None:
    with pytest.raises(ValueError, match="min_points"):
        fit_linear([0.7, 0.75, 0.8], [0.5, 0.55, 0.6], ["a", "b", "c"], min_points=min_points)


def test_malformed_inputs_raise(resnets) -> None:
    with pytest.raises(ValueError, match="same ID accuracy"):
        fit_linear([0.7, 0.7], [0.5, 0.6], ["a", "b"])
    with pytest.raises(ValueError, match="differ in length"):
        fit_linear([0.7, 0.75], [0.5], ["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        fit_linear([0.7, 0.75], [0.5, 0.6], ["a", "a"])
    with pytest.raises(ValueError, match="not percentages"):
        fit_linear([69.76, 73.31], [57.31, 60.87], ["a", "b"])
    names, x, y = _imagenet_a(resnets)
    with pytest.raises(ValueError, match="reference model 'resnet-50' is not among"):
        fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet-50")
    with pytest.raises(ValueError, match="pivot"):
        fit_piecewise(x, y, names, pivot=91.86, reference="resnet50")


def test_to_dict_is_json_ready(resnets) -> None:
    import json

    names, x, y = _imagenet_a(resnets)
    fit = fit_piecewise(x, y, names, pivot=PIVOT, reference="resnet50")
    text = json.dumps(fit.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["lower"]["models"] == ["resnet18", "resnet34"]
    assert back["lower"]["slope_stderr"] is None and back["lower"]["domain_logit_id"][0] is None
    assert "resnet50" in back["excluded"]
