"""The logit axis and the explicit policy for accuracies of exactly 0 or 1."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffusion_classifier.robustness import fit_linear, fit_piecewise, inverse_logit, logit


def test_logit_values_and_round_trip() -> None:
    assert logit(0.5) == 0.0
    assert logit(0.8) == pytest.approx(math.log(4.0), abs=1e-15)
    p = np.array([0.0115, 0.5, 0.9331])
    assert np.allclose(inverse_logit(logit(p)), p, rtol=0, atol=1e-15)


def test_logit_at_the_boundary_is_infinite_not_a_warning() -> None:
    with np.errstate(all="raise"):
        assert logit(0.0) == -math.inf
        assert logit(1.0) == math.inf
    assert inverse_logit(-math.inf) == 0.0 and inverse_logit(math.inf) == 1.0


@pytest.mark.parametrize("bad", [87.39, -0.1, math.nan])
def test_logit_refuses_percentages_and_nan(bad: float) -> None:
    with pytest.raises(ValueError):
        logit(bad)


ID = [0.70, 0.73, 0.76, 0.78]
OOD = [0.57, 0.61, 0.0, 0.67]
NAMES = ["m18", "m34", "m_zero", "m152"]


def test_raise_policy_names_the_model() -> None:
    with pytest.raises(ValueError, match=r"m_zero: OOD accuracy is 0.*policy='exclude'"):
        fit_linear(ID, OOD, NAMES)


def test_raise_policy_names_every_offending_model() -> None:
    ood = [0.57, 1.0, 0.0, 0.67]
    with pytest.raises(ValueError, match=r"2 model\(s\).*m34: OOD accuracy is 1.*m_zero"):
        fit_linear(ID, ood, NAMES)
    with pytest.raises(ValueError, match=r"m18: ID accuracy is 1"):
        fit_linear([1.0, 0.73, 0.76, 0.78], [0.57, 0.61, 0.6, 0.67], NAMES)


def test_exclude_policy_records_the_model_and_fits_the_rest() -> None:
    fit = fit_linear(ID, OOD, NAMES, policy="exclude")
    assert set(fit.excluded) == {"m_zero"}
    assert "OOD accuracy is 0" in fit.excluded["m_zero"]
    assert fit.models == ("m18", "m34", "m152") and fit.n == 3
    reference = fit_linear([0.70, 0.73, 0.78], [0.57, 0.61, 0.67], ["m18", "m34", "m152"])
    assert fit.slope == pytest.approx(reference.slope, rel=1e-12)
    assert fit.intercept == pytest.approx(reference.intercept, rel=1e-12)
    assert fit.to_dict()["excluded"] == {"m_zero": fit.excluded["m_zero"]}


def test_excluded_is_read_only() -> None:
    fit = fit_linear(ID, OOD, NAMES, policy="exclude")
    with pytest.raises(TypeError):
        fit.excluded["other"] = "x"  # type: ignore[index]


def test_unknown_policy_raises() -> None:
    with pytest.raises(ValueError, match="policy"):
        fit_linear(ID, OOD, NAMES, policy="drop")  # type: ignore[arg-type]


def test_piecewise_policy_applies_to_non_reference_models(resnets) -> None:
    names = list(resnets)
    x = [resnets[m]["val_a"] for m in names]
    y = [resnets[m]["a"] for m in names]
    y[0] = 0.0  # resnet18 now also scores 0 on the OOD set
    with pytest.raises(ValueError, match="resnet18"):
        fit_piecewise(x, y, names, pivot=0.9186, reference="resnet50")
    names.append("resnet_extra")
    x.append(0.88)
    y.append(0.015)
    fit = fit_piecewise(x, y, names, pivot=0.9186, reference="resnet50", policy="exclude")
    assert set(fit.excluded) == {"resnet50", "resnet18"}
    assert "resnet18" in fit.lower.excluded and "resnet18" not in fit.upper.excluded
    assert fit.lower.models == ("resnet34", "resnet_extra")
