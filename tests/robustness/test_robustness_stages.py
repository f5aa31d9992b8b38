"""Stages of the robustness study on synthetic summaries with a known trend."""

import json

import numpy as np
import pandas as pd
import pytest

from diffusion_classifier.robustness import inverse_logit, logit
from helpers.fits import fit_inputs, fit_outputs
from diffusion_classifier.stages.robustness import (
    fit_effective_robustness,
    make_robustness_table,
    plot_effective_robustness,
)

N = 100_000  # large counts so that rounding to whole images hardly moves the line


def _write(path, **summary):
    path.write_text(json.dumps(summary))
    return path


def _zoo(tmp_path, id_acc, ood_acc, paper_names=None):
    paths = []
    for i, (a, b) in enumerate(zip(id_acc, ood_acc)):
        for setting, acc in (("id", a), ("ood", b)):
            paths.append(_write(tmp_path / f"{setting}-{i}.json", model=f"m{i}", setting=setting,
                                paper_name=(paper_names or {}).get(f"m{i}"),
                                num_correct=int(round(acc * N)), num_images=N))
    return paths


def _diffusion(tmp_path, id_acc, ood_acc):
    return [_write(tmp_path / f"dc-{d}.json", dataset=d, model="unet", strategy="s",
                   num_correct=int(round(a * N)), num_images=N) for d, a in (("id_ds", id_acc), ("ood_ds", ood_acc))]


ROW = {"label": "Diffusion Classifier", "model": "unet", "strategy": "s", "id_dataset": "id_ds",
       "ood_dataset": "ood_ds", "paper_name": "Diffusion Classifier 256"}


def test_linear_fit_recovers_the_trend_and_the_offset(tmp_path):
    x = np.array([0.6, 0.7, 0.8, 0.9, 0.95])
    y = inverse_logit(0.5 + 0.8 * logit(x))
    dc_id, dc_ood = 0.85, float(inverse_logit(0.5 + 0.8 * logit(0.85))) + 0.10
    spec = {"fits": {"shift": {"id_setting": "id", "ood_setting": "ood", "diffusion": [ROW],
                               "paper_id_column": "IN", "paper_ood_column": "IN-V2"}}}
    info = fit_effective_robustness("shift", spec, _zoo(tmp_path, x, y, {"m0": "ResNet-18"}),
                                    _diffusion(tmp_path, dc_id, dc_ood), *fit_outputs(tmp_path / "fit"))
    assert info["fit"]["slope"] == pytest.approx(0.8, abs=1e-3)
    assert info["fit"]["intercept"] == pytest.approx(0.5, abs=1e-3)
    assert info["effective_robustness"]["Diffusion Classifier"] == pytest.approx(10.0, abs=0.01)
    models = pd.read_csv(tmp_path / "fit" / "models.csv")
    assert (models.loc[models["family"] == "discriminative", "residual_logit"].abs() < 1e-3).all()
    assert (models["ood_ci_low"] < models["ood_accuracy"]).all()
    stem = tmp_path / "tables" / "table4"
    make_robustness_table(*fit_inputs(tmp_path / "fit"), stem.with_suffix(".md"), stem.with_suffix(".csv"))
    table = pd.read_csv(stem.with_suffix(".csv"))
    dc = table[table["model"] == "Diffusion Classifier"].iloc[0]
    assert dc["paper_id"] == 77.5 and dc["paper_ood"] == 64.6  # paper Table 4, DiT-XL/2 256
    assert table.loc[table["model"] == "m0", "paper_ood"].iloc[0] == 57.3
    assert np.isnan(table.loc[table["model"] == "m1", "paper_id"].iloc[0])


def test_piecewise_fit_leaves_the_reference_out_and_splits_at_its_accuracy(tmp_path):
    x = np.array([0.6, 0.65, 0.7, 0.8, 0.85, 0.9, 0.95])
    y = np.where(x < 0.8, inverse_logit(-3 + 0.5 * logit(x)), inverse_logit(-6 + 2.0 * logit(x)))
    y[3] = 0.0  # the reference m3 scores 0 on the set filtered against it
    spec = {"fits": {"adv": {"id_setting": "id", "ood_setting": "ood", "reference": "m3", "diffusion": [ROW]}}}
    info = fit_effective_robustness("adv", spec, _zoo(tmp_path, x, y), _diffusion(tmp_path, 0.9, 0.5),
                                    *fit_outputs(tmp_path / "fit"))
    assert info["fit"]["pivot"] == pytest.approx(0.8)
    assert "m3" in info["fit"]["excluded"]
    assert info["fit"]["lower"]["slope"] == pytest.approx(0.5, abs=1e-2)
    assert info["fit"]["upper"]["slope"] == pytest.approx(2.0, abs=1e-2)
    expected = 100 * (0.5 - float(inverse_logit(-6 + 2.0 * logit(0.9))))
    assert info["effective_robustness"]["Diffusion Classifier"] == pytest.approx(expected, abs=0.05)
    params = pd.read_csv(tmp_path / "fit" / "parameters.csv")
    assert params["piece"].tolist() == ["lower", "upper"]
    plot_effective_robustness(*fit_inputs(tmp_path / "fit"), tmp_path / "fig.png", tmp_path / "fig.csv")
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"
    data = pd.read_csv(tmp_path / "fig.csv")
    assert set(data["kind"]) == {"point", "line"} and set(data.loc[data["kind"] == "line", "series"]) == {"lower", "upper"}


def test_too_few_models_for_a_line_is_a_clear_error(tmp_path):
    x = np.array([0.6, 0.7, 0.9])
    spec = {"fits": {"adv": {"id_setting": "id", "ood_setting": "ood", "reference": "m1"}}}
    with pytest.raises(ValueError, match=r"lower piece.*1 point\(s\) given \(m0\), at least 2 needed"):
        fit_effective_robustness("adv", spec, _zoo(tmp_path, x, [0.3, 0.0, 0.5]), [], *fit_outputs(tmp_path / "fit"))
    assert not (tmp_path / "fit" / "fit.json").exists()


def test_missing_summaries_name_the_fix(tmp_path):
    spec = {"fits": {"s": {"id_setting": "id", "ood_setting": "ood", "diffusion": [ROW]}}}
    with pytest.raises(ValueError, match="add it to 'experiments'"):
        fit_effective_robustness("s", spec, _zoo(tmp_path, [0.6, 0.7], [0.3, 0.4]), [], *fit_outputs(tmp_path / "fit"))
    with pytest.raises(ValueError, match="unknown key"):
        fit_effective_robustness("s", {**spec, "alhpa": 0.01}, [], [], *fit_outputs(tmp_path / "fit"))


def test_a_perfect_id_accuracy_gets_no_prediction_instead_of_a_crash(tmp_path):
    spec = {"fits": {"s": {"id_setting": "id", "ood_setting": "ood", "diffusion": [ROW]}}}
    info = fit_effective_robustness("s", spec, _zoo(tmp_path, [0.6, 0.7, 0.8], [0.3, 0.4, 0.5]),
                                    _diffusion(tmp_path, 1.0, 0.5), *fit_outputs(tmp_path / "fit"))
    assert info["effective_robustness"]["Diffusion Classifier"] is None
    models = pd.read_csv(tmp_path / "fit" / "models.csv")
    row = models[models["model"] == "Diffusion Classifier"].iloc[0]
    assert np.isnan(row["residual_logit"]) and "logit undefined" in row["prediction_note"]
