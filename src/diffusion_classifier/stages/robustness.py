"""Stages of the robustness study: ``build_shift``, ``fit_effective_robustness``,
``make_robustness_table`` (Table 4) and ``plot_effective_robustness`` (Figure 6)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ._outputs import table_stem
from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_shift", "fit_effective_robustness", "make_robustness_table", "plot_effective_robustness",
           "accuracy_frame"]


@stage("build-shift", threads=True)
def build_shift(dataset_name: str, source: str, options: dict, shift: dict, base_dir: str | Path,
                output_dir: str | Path, *, reference: dict | None = None) -> Path:
    """Build the derived dataset ``dataset_name`` from ``base_dir`` (and a reference model).

    Args:
        dataset_name: Dataset name (key of ``datasets:`` and ``shifts:``).
        source: Its registry entry (``digits_corrupted``, ``digits_adversarial``).
        options: Its ``datasets.<name>.options``.
        shift: Its ``shifts.<name>`` entry.
        base_dir: Prepared base dataset.
        output_dir: Output directory (manifest form).
        reference: ``{"name", "spec", "checkpoint"}`` of the reference zoo model.
    """
    from ..data import load_dataset, prepare_dataset
    from ..specs import ShiftSpec, from_dict

    spec = from_dict(ShiftSpec, shift, f"shifts.{dataset_name}")
    if spec.reference is not None and reference is None:
        raise ValueError(f"shifts.{dataset_name} is filtered against {spec.reference!r}: pass the reference model")
    from ..baselines.zoo_evaluation import reference_model  # the zoo's models, only for a filtered shift

    extra = {"reference": reference_model(reference, load_dataset(base_dir))} if reference is not None else {}
    return prepare_dataset(source, output_dir, base_dir=str(base_dir), split=spec.split, **extra, **options)


def _read(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]


def accuracy_frame(fit_name: str, robustness: dict, zoo_summaries: list[str | Path],
                   diffusion_summaries: list[str | Path]) -> tuple[pd.DataFrame, dict]:
    """The per-model count table of one fit (input of :func:`robustness.robustness_table`).

    Zoo summaries are matched by their ``setting``; Diffusion Classifier summaries by
    (dataset, model, strategy). Every zoo model must have both settings.
    """
    import pandas as pd

    from ..specs import RobustnessSpec, from_dict

    spec = from_dict(RobustnessSpec, robustness, "robustness")
    fit = spec.fit(fit_name)
    by_setting: dict[str, dict[str, dict]] = {}
    for s in _read(zoo_summaries):
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
    experiments = {(s["dataset"], s["model"], s["strategy"]): s for s in _read(diffusion_summaries)}
    for row in fit.diffusion_rows:
        pair = []
        for dataset in (row.id_dataset, row.ood_dataset):
            key = (dataset, row.model, row.strategy)
            if key not in experiments:
                raise ValueError(f"robustness.fits.{fit_name}: Diffusion Classifier row {row.label!r} needs the "
                                 f"experiment {dict(zip(('dataset', 'model', 'strategy'), key))}; add it to "
                                 "'experiments'")
            pair.append(experiments[key])
        rows.append({"model": row.label, "family": "diffusion", "paper_name": row.paper_name or "",
                     "id_correct": pair[0]["num_correct"], "id_total": pair[0]["num_images"],
                     "ood_correct": pair[1]["num_correct"], "ood_total": pair[1]["num_images"]})
    return pd.DataFrame(rows), {"fit": fit, "spec": spec}


@stage("fit-effective-robustness")
def fit_effective_robustness(fit_name: str, robustness: dict, zoo_summaries: list[str | Path],
                             diffusion_summaries: list[str | Path], output_dir: str | Path) -> dict:
    """Fit the discriminative trend of one shift and measure every model against it.

    Writes into ``output_dir``: ``models.csv`` (counts, accuracies, 99.5% intervals in
    accuracy and logit units, prediction, effective robustness and logit residual
    per model), ``parameters.csv`` (one row per fitted line) and ``fit.json`` (the
    lines, the pivot, the exclusions and every model's effective robustness).

    Raises:
        ValueError: Missing summaries, or a fit with fewer models than a line needs
            (the message names the piece, its models and the excluded ones).
    """
    import numpy as np

    from ..artifacts import write_frame, code_version, write_json
    from ..robustness import fit_discriminative, fit_parameters, logit, robustness_table

    table, parts = accuracy_frame(fit_name, robustness, zoo_summaries, diffusion_summaries)
    fit_spec, spec = parts["fit"], parts["spec"]
    testbed = None
    if spec.trend_spec.source == "testbed":
        trend, testbed = _testbed_trend(fit_name, fit_spec, spec)
    else:
        trend = fit_discriminative(table, pivot=fit_spec.pivot, reference=fit_spec.reference,
                                   policy=spec.boundary_policy, min_points=spec.min_points)
    models = robustness_table(table, trend, policy="exclude", alpha=spec.alpha)
    if testbed is not None:
        models = _check_against_testbed(models, table, testbed, fit_spec, spec)
    predicted = models["predicted_ood_accuracy"].to_numpy()
    residual = np.full(len(models), np.nan)
    known = np.isfinite(predicted) & (predicted > 0) & (predicted < 1)
    residual[known] = models["ood_logit"].to_numpy()[known] - np.asarray(logit(predicted[known]))
    models["residual_logit"] = residual  # logit(OOD) minus the trend; NaN where no prediction
    models.insert(2, "paper_name", table["paper_name"].to_numpy())
    output_dir = Path(output_dir)
    write_frame(models, output_dir / "models.csv", float_format="%.8g")
    write_frame(fit_parameters(trend), output_dir / "parameters.csv", float_format="%.8g")
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
    write_json(output_dir / "fit.json", info)
    return info


def _testbed_trend(fit_name: str, fit_spec, spec) -> tuple:
    """The trend fitted on the testbed's published models, and what the fit.json records of it."""
    import numpy as np

    from ..robustness import effective_robustness
    from ..robustness.testbed import fit_testbed, load_testbed, published_points
    from ..specs import TestbedColumnsSpec, from_dict

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


def _check_against_testbed(models: pd.DataFrame, table: pd.DataFrame, testbed: dict, fit_spec, spec) -> pd.DataFrame:
    """Mark our zoo as measured beside the trend, each checked against its published accuracy."""
    import numpy as np

    from ..robustness.testbed import published_check

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


def _load_fits(fit_dirs: list[str | Path]) -> dict[str, tuple[dict, pd.DataFrame]]:
    import pandas as pd

    fits = {}
    for d in map(Path, fit_dirs):
        info = json.loads((d / "fit.json").read_text())
        fits[info["name"]] = (info, pd.read_csv(d / "models.csv", keep_default_na=False,
                                                na_values=["", "nan", "NaN"]))
    return fits


@stage("make-robustness-table")
def make_robustness_table(
    fit_dirs: list[str | Path], output_md: str | Path, output_csv: str | Path
) -> tuple[Path, Path]:
    """Table 4: ID and OOD accuracy (%) per model and shift, the paper's values beside."""
    from ..reporting import write_table
    from ..reporting.robustness import table4_frame

    frame = table4_frame(_load_fits(fit_dirs))
    return write_table(frame, table_stem(output_md, output_csv),
                       "Table 4: ID and OOD top-1 accuracy (%) with 99.5% Clopper-Pearson intervals, effective "
                       "robustness (accuracy points above the discriminative trend) and the paper's reported "
                       "values (paper Table 4; n/a where the paper has none, e.g. every embedded row).")


@stage("plot-effective-robustness")
def plot_effective_robustness(fit_dirs: list[str | Path], output_png: str | Path, output_csv: str | Path) -> Path:
    """Figure 6 (PNG) and the data behind it (CSV)."""
    from ..artifacts import write_frame
    from ..reporting.robustness import figure6_data, plot_figure6

    fits = _load_fits(fit_dirs)
    data = figure6_data(fits)
    write_frame(data, output_csv, float_format="%.8g")
    plot_figure6(data, fits, output_png)
    return Path(output_png)
