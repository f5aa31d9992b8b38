"""Per-model tables: fitting only discriminative rows, intervals, and the fit artifact."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from diffusion_classifier.robustness import (
    LinearFit,
    PiecewiseFit,
    clopper_pearson,
    effective_robustness,
    fit_discriminative,
    fit_parameters,
    fit_piecewise,
    logit,
    robustness_table,
)

ID_TOTAL, A_TOTAL = 10_000, 7_500


def imagenet_a_table(resnets, diffusion=(("dit_xl2_256", 8800, 1500),)) -> pd.DataFrame:
    """ResNets as counts (ID exact; ImageNet-A rounded to whole images) plus diffusion rows."""
    rows = [
        {
            "model": m,
            "family": "discriminative",
            "id_correct": round(acc["val_a"] * ID_TOTAL),
            "id_total": ID_TOTAL,
            "ood_correct": round(acc["a"] * A_TOTAL),
            "ood_total": A_TOTAL,
        }
        for m, acc in resnets.items()
    ]
    rows += [
        {"model": name, "family": "diffusion", "id_correct": idc, "id_total": ID_TOTAL,
         "ood_correct": oodc, "ood_total": A_TOTAL}
        for name, idc, oodc in diffusion
    ]
    return pd.DataFrame(rows)


def test_fit_uses_only_discriminative_rows_and_pivot_from_reference(resnets) -> None:
    df = imagenet_a_table(resnets)
    fit = fit_discriminative(df, reference="resnet50")
    assert isinstance(fit, PiecewiseFit)
    assert fit.pivot == 0.9186  # resnet50's ID accuracy in the table: 9186 / 10000
    assert "dit_xl2_256" not in fit.models
    disc = df[df.family == "discriminative"]
    direct = fit_piecewise(
        disc.id_correct / disc.id_total, disc.ood_correct / disc.ood_total, disc.model.tolist(),
        pivot=0.9186, reference="resnet50",
    )
    assert fit.lower.slope == pytest.approx(direct.lower.slope, abs=1e-12)
    assert fit.upper.intercept == pytest.approx(direct.upper.intercept, abs=1e-12)
    # Moving the diffusion point anywhere leaves the fit unchanged.
    moved_table = imagenet_a_table(resnets, (("dit_xl2_256", 9900, 7000),))
    moved = fit_discriminative(moved_table, reference="resnet50")
    assert moved.lower.slope == fit.lower.slope and moved.upper.slope == fit.upper.slope


def test_table_rows(resnets) -> None:
    df = imagenet_a_table(resnets)
    out = robustness_table(df, reference="resnet50")
    assert list(out.model) == list(df.model)
    fit = fit_discriminative(df, reference="resnet50")
    for _, row in out.iterrows():
        src = df.set_index("model").loc[row.model]
        for p in ("id", "ood"):
            low, high = clopper_pearson(int(src[f"{p}_correct"]), int(src[f"{p}_total"]))
            assert row[f"{p}_accuracy"] == src[f"{p}_correct"] / src[f"{p}_total"]
            assert (row[f"{p}_ci_low"], row[f"{p}_ci_high"]) == pytest.approx((low, high), abs=1e-15)
            assert row[f"{p}_logit_ci_low"] == pytest.approx(logit(low), abs=1e-12)
            assert row[f"{p}_logit_ci_high"] == pytest.approx(logit(high), abs=1e-12)
        assert row.effective_robustness == pytest.approx(
            effective_robustness(fit, row.id_accuracy, row.ood_accuracy), abs=1e-12
        )
    by = out.set_index("model")
    assert by.loc["resnet50", "ood_logit"] == -math.inf and by.loc["resnet50", "ood_ci_low"] == 0.0
    assert not by.loc["resnet50", "in_fit"] and "reference model" in by.loc["resnet50", "fit_note"]
    assert by.loc["resnet50", "piece"] == "upper"
    assert not by.loc["dit_xl2_256", "in_fit"] and "diffusion" in by.loc["dit_xl2_256", "fit_note"]
    assert by.loc["dit_xl2_256", "piece"] == "lower"
    for m in ("resnet18", "resnet34", "resnet101", "resnet152"):
        assert by.loc[m, "in_fit"] and by.loc[m, "fit_note"] == ""
        assert by.loc[m, "effective_robustness"] == pytest.approx(0.0, abs=1e-9)
    # Diffusion point by hand: the line through resnet18 and resnet34 as counts.
    (x1, y1), (x2, y2) = [
        (math.log(a / (1 - a)), math.log(b / (1 - b)))
        for a, b in ((8739 / 1e4, 86 / 7500), (8995 / 1e4, 140 / 7500))
    ]
    slope = (y2 - y1) / (x2 - x1)
    z = y1 + slope * (math.log(0.88 / 0.12) - x1)
    assert by.loc["dit_xl2_256", "predicted_ood_accuracy"] == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-12)
    expected = (0.2 - 1 / (1 + math.exp(-z))) * 100
    assert by.loc["dit_xl2_256", "effective_robustness"] == pytest.approx(expected, abs=1e-9)


def test_fit_parameters_piecewise(resnets) -> None:
    fit = fit_discriminative(imagenet_a_table(resnets), reference="resnet50")
    params = fit_parameters(fit)
    assert list(params.piece) == ["lower", "upper"]
    assert list(params.models) == ["resnet18;resnet34", "resnet101;resnet152"]
    assert (params["pivot_id_accuracy"] == 0.9186).all() and (params.reference == "resnet50").all()
    assert params.excluded.str.startswith("resnet50: reference model").all()
    assert list(params.n) == [2, 2] and list(params.dof_resid) == [0, 0]
    assert params.slope.tolist() == [fit.lower.slope, fit.upper.slope]


def test_linear_table_with_custom_prefixes(resnets) -> None:
    rows = [
        {"model": m, "family": "discriminative", "val_correct": round(a["val"] * 50_000),
         "val_total": 50_000, "v2_correct": round(a["v2"] * 10_000), "v2_total": 10_000}
        for m, a in resnets.items()
    ]
    df = pd.DataFrame(rows)
    out = robustness_table(df, id_prefix="val", ood_prefix="v2")
    assert out.in_fit.all() and (out.piece == "all").all()
    assert "id_accuracy" in out.columns and "ood_ci_high" in out.columns
    params = fit_parameters(fit_discriminative(df, id_prefix="val", ood_prefix="v2"))
    assert len(params) == 1 and params.piece[0] == "all" and math.isnan(params["pivot_id_accuracy"][0])
    assert params.excluded[0] == "" and params.n[0] == 5


def test_supplied_fit_is_used(resnets) -> None:
    df = imagenet_a_table(resnets)
    fit = fit_discriminative(df, reference="resnet50")
    assert robustness_table(df, fit).equals(robustness_table(df, reference="resnet50"))
    with pytest.raises(ValueError, match="not both"):
        robustness_table(df, fit, reference="resnet50")


def test_prediction_policy_for_boundary_id_accuracy(resnets) -> None:
    df = imagenet_a_table(resnets, (("perfect_id", ID_TOTAL, 3000),))
    with pytest.raises(ValueError, match="perfect_id"):
        robustness_table(df, reference="resnet50")
    out = robustness_table(df, reference="resnet50", policy="exclude").set_index("model")
    assert math.isnan(out.loc["perfect_id", "effective_robustness"])
    assert "logit undefined" in out.loc["perfect_id", "prediction_note"]
    assert out.loc["resnet18", "prediction_note"] == ""


def test_discriminative_boundary_rows_follow_the_policy(resnets) -> None:
    df = imagenet_a_table(resnets)
    with pytest.raises(ValueError, match="resnet50"):
        fit_discriminative(df, pivot=0.9186)  # no reference: resnet50's 0 hits the policy
    fit = fit_discriminative(df, pivot=0.9186, policy="exclude")
    assert "OOD accuracy is 0" in fit.excluded["resnet50"] and fit.reference is None


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: d.drop(columns="ood_total"), "lacks column"),
        (lambda d: d.assign(family="generative"), "unknown family"),
        (lambda d: d.assign(id_correct=d.id_total + 1), "violated"),
        (lambda d: d.assign(model="same"), "unique"),
        (lambda d: d.assign(ood_correct=d.ood_correct + 0.5), "whole numbers"),
        (lambda d: d.assign(id_total=np.nan), "missing values"),
    ],
)
def test_invalid_tables_raise(resnets, mutate, match) -> None:
    with pytest.raises(ValueError, match=match):
        robustness_table(mutate(imagenet_a_table(resnets)), reference="resnet50")


def test_reference_must_be_a_discriminative_row(resnets) -> None:
    with pytest.raises(ValueError, match="not a discriminative model"):
        fit_discriminative(imagenet_a_table(resnets), reference="dit_xl2_256")


def test_linear_fit_type(resnets) -> None:
    df = imagenet_a_table(resnets).query("model != 'resnet50'")
    assert isinstance(fit_discriminative(df), LinearFit)
