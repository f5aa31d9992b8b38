"""One fit of the robustness study: counts from run summaries, the trend, every model against it.

The ``robustness:`` config section names, per fit (one shift), the zoo settings of
its ID and OOD evaluations and the Diffusion Classifier rows; :func:`accuracy_frame`
collects their counts, :func:`measure_fit` fits the discriminative trend (on our zoo,
or on a testbed's published models, :mod:`.testbed`) and measures every model
against it: the per-model table, the fitted lines and the fit's record (``fit.json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .effective import effective_robustness
from .fit import TrendFit
from .logit import logit
from .table import fit_discriminative, fit_parameters, robustness_table

__all__ = ["FitResult", "accuracy_frame", "measure_fit", "testbed_trend"]


@dataclass(frozen=True)
class FitResult:
    """What one fit writes.

    Attributes:
        models: Counts, accuracies, 99.5% intervals in accuracy and logit units,
            prediction, effective robustness and logit residual per model.
        parameters: One row per fitted line.
        info: The lines, the pivot, the exclusions and every model's effective robustness.
    """

    models: pd.DataFrame
    parameters: pd.DataFrame
    info: dict


def accuracy_frame(fit_name: str, spec, zoo_summaries: Sequence[dict],
                   diffusion_summaries: Sequence[dict]) -> pd.DataFrame:
    """The per-model count table of one fit (input of :func:`.table.robustness_table`).

    Zoo summaries are matched by their ``setting``; Diffusion Classifier summaries by
    (dataset, model, strategy) and, for a row's replayed ID accuracy, ``classes_from``.
    Every zoo model must have both settings.

    Args:
        fit_name: The fit (key of ``robustness.fits``).
        spec: The ``robustness:`` section (:class:`~diffusion_classifier.specs.RobustnessSpec`).
        zoo_summaries, diffusion_summaries: The runs' summaries.
    """
    fit = spec.fit(fit_name)
    by_setting: dict[str, dict[str, dict]] = {}
    for s in zoo_summaries:
        by_setting.setdefault(s["setting"], {})[s["model"]] = s
    for setting in (fit.id_setting, fit.ood_setting):
        if setting not in by_setting:
            raise ValueError(f"robustness.fits.{fit_name}: no zoo summary for setting {setting!r} among "
                             f"{sorted(by_setting)}")
    ids, oods = by_setting[fit.id_setting], by_setting[fit.ood_setting]
    unpaired = sorted(set(ids) ^ set(oods))
    if unpaired:
        raise ValueError(f"robustness.fits.{fit_name}: zoo model(s) {unpaired} lack the ID or the OOD evaluation")
    rows = [{"model": m, "family": "discriminative", "paper_name": ids[m].get("paper_name") or "",
             "id_correct": ids[m]["num_correct"], "id_total": ids[m]["num_images"],
             "ood_correct": oods[m]["num_correct"], "ood_total": oods[m]["num_images"]} for m in sorted(ids)]
    experiments = {(s["dataset"], s["model"], s["strategy"], s.get("classes_from")): s for s in diffusion_summaries}
    for row in fit.diffusion_rows:
        pair = []
        for dataset, classes_from in ((row.id_dataset, row.id_classes_from), (row.ood_dataset, None)):
            key = (dataset, row.model, row.strategy, classes_from)
            if key not in experiments:
                raise ValueError(f"robustness.fits.{fit_name}: Diffusion Classifier row {row.label!r} needs the "
                                 f"experiment {dict(zip(('dataset', 'model', 'strategy'), key))}"
                                 + (f" replayed on the classes of {classes_from!r}" if classes_from else "")
                                 + "; add it to 'experiments'")
            pair.append(experiments[key])
        rows.append({"model": row.label, "family": "diffusion", "paper_name": row.paper_name or "",
                     "id_correct": pair[0]["num_correct"], "id_total": pair[0]["num_images"],
                     "ood_correct": pair[1]["num_correct"], "ood_total": pair[1]["num_images"]})
    return pd.DataFrame(rows)


def measure_fit(fit_name: str, spec, zoo_summaries: Sequence[dict], diffusion_summaries: Sequence[dict]) -> FitResult:
    """Fit the discriminative trend of one shift and measure every model against it.

    Raises:
        ValueError: Missing summaries, or a fit with fewer models than a line needs
            (the message names the piece, its models and the excluded ones).
    """
    from ..artifacts import code_version

    table = accuracy_frame(fit_name, spec, zoo_summaries, diffusion_summaries)
    fit_spec = spec.fit(fit_name)
    testbed = None
    if spec.trend_spec.source == "testbed":
        trend, testbed = testbed_trend(fit_name, fit_spec, spec)
    else:
        trend = fit_discriminative(table, pivot=fit_spec.pivot, reference=fit_spec.reference,
                                   policy=spec.boundary_policy, min_points=spec.min_points)
    models = robustness_table(table, trend, policy="exclude", alpha=spec.alpha)
    if testbed is not None:
        models = _check_against_testbed(models, table, testbed, spec)
    predicted = models["predicted_ood_accuracy"].to_numpy()
    residual = np.full(len(models), np.nan)
    known = np.isfinite(predicted) & (predicted > 0) & (predicted < 1)
    residual[known] = models["ood_logit"].to_numpy()[known] - np.asarray(logit(predicted[known]))
    models["residual_logit"] = residual  # logit(OOD) minus the trend; NaN where no prediction
    models.insert(2, "paper_name", table["paper_name"].to_numpy())
    er = {m: (None if math.isnan(v) else float(v)) for m, v in zip(models["model"], models["effective_robustness"])}
    info = {
        "name": fit_name,
        "title": fit_spec.title,
        "id_setting": fit_spec.id_setting,
        "ood_setting": fit_spec.ood_setting,
        "paper_id_column": fit_spec.paper_id_column,
        "paper_ood_column": fit_spec.paper_ood_column,
        "alpha": spec.alpha,
        "boundary_policy": spec.boundary_policy,
        "fit": trend.to_dict(),
        "effective_robustness": er,
        "diffusion": [r.label for r in fit_spec.diffusion_rows],
        "code_version": code_version(),
    }
    if testbed is not None:
        info["trend"] = {key: value for key, value in testbed.items() if key != "frame"}
    return FitResult(models, fit_parameters(trend), info)


def testbed_trend(fit_name: str, fit_spec, spec) -> tuple[TrendFit, dict]:
    """The trend fitted on the testbed's published models, and what the fit's record keeps of it."""
    from ..specs import TestbedColumnsSpec, from_dict
    from .testbed import fit_testbed, load_testbed, published_points

    trend_spec = spec.trend_spec
    if fit_spec.testbed is None:
        raise ValueError(f"robustness.fits.{fit_name}: robustness.trend.source is 'testbed', so the fit needs "
                         "testbed: {id: <testbed column>, ood: <testbed column>, selection: standard|imagenet_a}")
    columns = from_dict(TestbedColumnsSpec, fit_spec.testbed, f"robustness.fits.{fit_name}.testbed")
    frame = load_testbed(trend_spec.file)
    pivot = fit_spec.pivot
    if pivot is None and fit_spec.reference is not None:
        reference = trend_spec.names.get(fit_spec.reference, fit_spec.reference)
        if reference not in set(frame["model"]):
            raise ValueError(f"robustness.fits.{fit_name}: reference {fit_spec.reference!r} is not a testbed model; "
                             "give its testbed name in robustness.trend.names or an explicit pivot")
        pivot = float(frame.loc[frame["model"] == reference, columns.id].iloc[0]) / 100.0
    points = published_points(frame, columns.id, columns.ood, columns.selection)
    trend = fit_testbed(points, pivot=pivot, policy=spec.boundary_policy, min_points=spec.min_points)
    predictable = (points["id_accuracy"] > 0) & (points["id_accuracy"] < 1)
    points["effective_robustness"] = np.nan
    points.loc[predictable, "effective_robustness"] = effective_robustness(
        trend, points.loc[predictable, "id_accuracy"].to_numpy(), points.loc[predictable, "ood_accuracy"].to_numpy())
    return trend, {"source": "testbed", "id_column": columns.id, "ood_column": columns.ood,
                   "selection": columns.selection, "pivot": pivot, "plotted": len(points),
                   "fitted": int(points["in_fit"].sum()), "points": points.to_dict(orient="records"),
                   "frame": frame}


def _check_against_testbed(models: pd.DataFrame, table: pd.DataFrame, testbed: dict, spec) -> pd.DataFrame:
    """Mark our zoo as measured beside the trend, each checked against its published accuracy."""
    from .testbed import published_check

    zoo = (models["family"] == "discriminative").to_numpy()
    check = published_check(table[zoo], testbed["frame"], testbed["id_column"], testbed["ood_column"],
                            spec.trend_spec.names, alpha=spec.alpha)
    models.loc[zoo, "fit_note"] = ("our measurement, drawn beside the testbed's published models "
                                   "(the trend is fitted on those)")
    models["testbed_name"] = ""
    models["published_id"] = np.nan
    models["published_ood"] = np.nan
    models["published_check"] = ""
    for column in ("testbed_name", "published_id", "published_ood", "published_check"):
        models.loc[zoo, column] = check[column].to_numpy()
    return models
