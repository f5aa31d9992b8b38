"""Figure 6's paper-scale trend: the published accuracies of Taori et al.'s testbed (335 models)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from diffusion_classifier.robustness import logit
from diffusion_classifier.robustness.testbed import fit_testbed, load_testbed, published_check, published_points
from helpers.fits import fit_inputs, fit_outputs
from diffusion_classifier.stages.robustness import (
    fit_effective_robustness,
    make_robustness_table,
    plot_effective_robustness,
)


def test_the_packaged_table_is_the_testbeds():
    frame = load_testbed()
    assert len(frame) == 335 and (frame["training"] == "standard").sum() == 87
    resnet50 = frame.set_index("model").loc["resnet50"]
    assert resnet50["imagenet_val_on_a_classes"] == 91.86 and resnet50["imagenet_a"] == 0.0


def test_imagenet_a_selection_follows_the_testbed_plotting_rules():
    points = published_points(load_testbed(), "imagenet_val_on_a_classes", "imagenet_a", "imagenet_a")
    names = points["model"].str.removeprefix("testbed:")
    # Drawn: class-subsampled ID >= 75%, no "subsample" model, ResNet-50 left out.
    assert len(points) == 209 and (points["id_accuracy"] >= 0.75).all()
    assert not names.str.contains("subsample").any() and "resnet50" not in set(names)
    # Fitted: the drawn standard-training models without "aws" / "batch64" in their names.
    fitted = points[points["in_fit"]]
    assert len(fitted) == 84
    assert "resnet50_aws_baseline" not in set(names[points["in_fit"]])
    assert "resnet50_imagenet_100percent_batch64_original_images" not in set(names[points["in_fit"]])
    trend = fit_testbed(points, pivot=0.9186)
    assert (trend.lower.n, trend.upper.n) == (33, 51)
    assert trend.lower.n + trend.upper.n == len(fitted)


def test_linear_trends_are_over_the_standard_models():
    frame = load_testbed()
    for id_column, ood_column in (("imagenet_val", "imagenetv2_matched_frequency"),
                                  ("imagenet_val_on_objectnet_classes", "objectnet")):
        points = published_points(frame, id_column, ood_column, "standard")
        assert len(points) == 335 and points["in_fit"].sum() == 87
        trend = fit_testbed(points)
        fitted = points[points["in_fit"]]
        slope = np.polyfit(logit(fitted["id_accuracy"]), logit(fitted["ood_accuracy"]), 1)[0]
        assert trend.slope == pytest.approx(slope) and trend.n == 87


def test_published_check_flags_a_measurement_outside_the_interval():
    frame = load_testbed()
    measured = pd.DataFrame({"model": ["resnet50", "resnet18", "vit_b_16"],
                             "id_correct": [9186, 8000, 9000], "id_total": [10000] * 3,
                             "ood_correct": [0, 86, 700], "ood_total": [7500] * 3})
    check = published_check(measured, frame, "imagenet_val_on_a_classes", "imagenet_a").set_index(measured["model"])
    assert check.loc["resnet50", "published_check"] == "agrees"
    assert check.loc["resnet18", "published_check"].startswith("ID 80.00% outside")  # published 87.39%
    assert "OOD" not in check.loc["resnet18", "published_check"]                       # 86/7500 ~ 1.15%
    assert check.loc["vit_b_16", "published_check"] == "not in the testbed"
    renamed = published_check(measured.iloc[[2]], frame, "imagenet_val", "imagenet_val",
                              names={"vit_b_16": "resnet18"})
    assert renamed["testbed_name"].iloc[0] == "resnet18"


def _summary(path, **fields):
    path.write_text(json.dumps(fields))
    return path


def test_fit_stage_with_the_testbed_trend(tmp_path):
    zoo = []
    for model, (id_k, ood_k) in {"resnet50": (9186, 0), "resnet18": (8000, 86), "vit_b_16": (9000, 700)}.items():
        zoo.append(_summary(tmp_path / f"{model}-id.json", model=model, setting="a_id", num_correct=id_k,
                            num_images=10000))
        zoo.append(_summary(tmp_path / f"{model}-ood.json", model=model, setting="a", num_correct=ood_k,
                            num_images=7500))
    diffusion = [_summary(tmp_path / "dc-id.json", dataset="val_a", model="dit", strategy="s", num_correct=9500,
                          num_images=10000),
                 _summary(tmp_path / "dc-ood.json", dataset="in_a", model="dit", strategy="s", num_correct=1500,
                          num_images=7500)]
    spec = {"trend": {"source": "testbed"},
            "fits": {"imagenet_a": {"id_setting": "a_id", "ood_setting": "a", "reference": "resnet50",
                                    "testbed": {"id": "imagenet_val_on_a_classes", "ood": "imagenet_a",
                                                "selection": "imagenet_a"},
                                    "diffusion": [{"label": "DC", "model": "dit", "strategy": "s",
                                                   "id_dataset": "val_a", "ood_dataset": "in_a"}]}}}
    info = fit_effective_robustness("imagenet_a", spec, zoo, diffusion, *fit_outputs(tmp_path / "fit"))
    # The pivot is the testbed's ResNet-50 on the 200 classes; our zoo is not in the fit.
    assert info["fit"]["pivot"] == pytest.approx(0.9186)
    assert (info["fit"]["lower"]["n"], info["fit"]["upper"]["n"]) == (33, 51)
    assert info["trend"]["plotted"] == 209 and info["trend"]["fitted"] == 84
    points = published_points(load_testbed(), "imagenet_val_on_a_classes", "imagenet_a", "imagenet_a")
    expected = 100 * (0.2 - float(fit_testbed(points, pivot=0.9186).predict(0.95)))
    assert info["effective_robustness"]["DC"] == pytest.approx(expected)
    models = pd.read_csv(tmp_path / "fit" / "models.csv", keep_default_na=False).set_index("model")
    assert not models["in_fit"].any()
    assert models.loc["resnet18", "published_check"].startswith("ID 80.00% outside")
    assert models.loc["resnet50", "published_check"] == "agrees"
    make_robustness_table(*fit_inputs(tmp_path / "fit"), tmp_path / "table4.md", tmp_path / "table4.csv")
    table = pd.read_csv(tmp_path / "table4.csv", keep_default_na=False).set_index("model")
    assert float(table.loc["resnet18", "published_id"]) == pytest.approx(87.39)
    assert "outside" in table.loc["resnet18", "published_check"] and table.loc["DC", "published_check"] == ""
    plot_effective_robustness(*fit_inputs(tmp_path / "fit"), tmp_path / "fig6.png", tmp_path / "fig6.csv")
    data = pd.read_csv(tmp_path / "fig6.csv")
    assert (data["kind"] == "published").sum() == 209 and ((data["kind"] == "published") & data["in_fit"]).sum() == 84


def test_testbed_trend_needs_the_columns_of_each_fit(tmp_path):
    spec = {"trend": {"source": "testbed"}, "fits": {"v2": {"id_setting": "a", "ood_setting": "b"}}}
    zoo = [_summary(tmp_path / f"{s}.json", model="resnet18", setting=s, num_correct=5, num_images=10) for s in "ab"]
    with pytest.raises(ValueError, match=r"robustness.fits.v2: .*testbed: \{id:"):
        fit_effective_robustness("v2", spec, zoo, [], *fit_outputs(tmp_path / "fit"))
    spec["trend"]["source"] = "papers"
    with pytest.raises(ValueError, match="robustness.trend.source"):
        fit_effective_robustness("v2", spec, zoo, [], *fit_outputs(tmp_path / "fit"))
