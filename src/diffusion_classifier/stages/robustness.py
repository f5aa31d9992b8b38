"""Stages of the robustness study: ``build_shift``, ``replay_restricted`` (an ID accuracy on a
shift's classes from a stored run), ``fit_effective_robustness``, ``make_robustness_table``
(Table 4) and ``plot_effective_robustness`` (Figure 6)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._inputs import read_jsons
from ._outputs import table_stem
from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_shift", "replay_restricted", "fit_effective_robustness", "make_robustness_table", "plot_effective_robustness"]


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


@stage("replay-restricted")
def replay_restricted(dataset: str, model: str, strategy: str, classes_from: str, shards: list[str | Path],
                      dataset_dir: str | Path, classes_dir: str | Path, loss: str, output: str | Path) -> dict:
    """The ID accuracy of a stored one-stage run on another dataset's classes (no rescoring).

    Args:
        dataset, model, strategy: The stored run (ImageNet val scored over all its classes).
        classes_from: The dataset whose classes restrict it (ImageNet-A, ObjectNet).
        shards: The run's shard directories.
        dataset_dir: ``dataset`` prepared: its labels must be the model's class ids.
        classes_dir: ``classes_from`` prepared (its ``classes.csv`` with ``class_ids``).
        loss: The objective that ranks classes (the run's own loss).
        output: The summary a fit reads (counts, accuracy, ``classes_from``).
    """
    from ..artifacts import write_json
    from ..baselines.zoo_evaluation import dataset_class_ids
    from ..data import load_dataset
    from ..reporting.restricted_replay import restricted_summary
    from ..reporting.stored_runs import iter_cubes

    own = dataset_class_ids(load_dataset(dataset_dir))
    if any(ids != (label,) for label, ids in enumerate(own)):
        raise ValueError(f"{dataset}: its labels are not the model's class ids (class_ids is not the identity); "
                         "a restricted replay needs ImageNet val scored over all its classes")
    class_ids = dataset_class_ids(load_dataset(classes_dir))
    cubes = (cubes[loss] for cubes, _ in iter_cubes(shards, [loss]))
    summary = restricted_summary(cubes, class_ids, dataset=dataset, model=model, strategy=strategy,
                                 classes_from=classes_from)
    write_json(output, summary)
    return summary


@stage("fit-effective-robustness")
def fit_effective_robustness(fit_name: str, robustness: dict, zoo_summaries: list[str | Path],
                             diffusion_summaries: list[str | Path], output_models: str | Path,
                             output_parameters: str | Path, output_fit: str | Path) -> dict:
    """Fit the discriminative trend of one shift and measure every model against it.

    Args:
        fit_name: The fit (key of ``robustness.fits``).
        robustness: The ``robustness:`` config section.
        zoo_summaries: Summaries of the zoo's evaluations (both settings of the fit).
        diffusion_summaries: Summaries of the fit's Diffusion Classifier runs.
        output_models: CSV of counts, accuracies, 99.5% intervals in accuracy and logit
            units, prediction, effective robustness and logit residual per model.
        output_parameters: CSV of the fitted lines, one row each.
        output_fit: JSON of the lines, the pivot, the exclusions and every model's
            effective robustness.

    Raises:
        ValueError: Missing summaries, or a fit with fewer models than a line needs
            (the message names the piece, its models and the excluded ones).
    """
    from ..artifacts import write_frame, write_json
    from ..robustness.study import measure_fit
    from ..specs import RobustnessSpec, from_dict

    spec = from_dict(RobustnessSpec, robustness, "robustness")
    result = measure_fit(fit_name, spec, read_jsons(zoo_summaries), read_jsons(diffusion_summaries))
    write_frame(result.models, output_models, float_format="%.8g")
    write_frame(result.parameters, output_parameters, float_format="%.8g")
    write_json(output_fit, result.info)
    return result.info


def _load_fits(fit_paths: list[str | Path], models_paths: list[str | Path]) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Each fit's record and per-model table, by fit name (the inputs of Table 4 and Figure 6)."""
    import pandas as pd

    from ..errors import UserError

    if len(fit_paths) != len(models_paths):
        raise UserError(f"--fit-paths and --models-paths: give each fit's fit.json and models.csv, in the same "
                        f"order, not {len(fit_paths)} and {len(models_paths)} files")
    return {info["name"]: (info, pd.read_csv(models, keep_default_na=False, na_values=["", "nan", "NaN"]))
            for info, models in zip(read_jsons(fit_paths), models_paths)}


@stage("make-robustness-table")
def make_robustness_table(
    fit_paths: list[str | Path], models_paths: list[str | Path], output_md: str | Path, output_csv: str | Path
) -> tuple[Path, Path]:
    """Table 4: ID and OOD accuracy (%) per model and shift, the paper's values beside.

    Args:
        fit_paths: Each fit's record (``fit.json`` of ``fit-effective-robustness``).
        models_paths: Each fit's per-model table (its ``models.csv``), in the same order.
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    from ..reporting import write_table
    from ..reporting.robustness import TABLE4_CAPTION, TABLE4_PAPER_COLUMNS, table4_frame
    from ..reporting.tables import without_paper_columns

    frame = table4_frame(_load_fits(fit_paths, models_paths))
    display, caption = without_paper_columns(frame, TABLE4_CAPTION, TABLE4_PAPER_COLUMNS)
    return write_table(frame, table_stem(output_md, output_csv), caption, display)


@stage("plot-effective-robustness")
def plot_effective_robustness(fit_paths: list[str | Path], models_paths: list[str | Path], output_png: str | Path,
                              output_csv: str | Path) -> Path:
    """Figure 6 (PNG) and the data behind it (CSV).

    Args:
        fit_paths: Each fit's record (``fit.json`` of ``fit-effective-robustness``).
        models_paths: Each fit's per-model table (its ``models.csv``), in the same order.
        output_png: The figure.
        output_csv: The data behind it.
    """
    from ..artifacts import write_frame
    from ..reporting.robustness import figure6_data, plot_figure6

    fits = _load_fits(fit_paths, models_paths)
    data = figure6_data(fits)
    write_frame(data, output_csv, float_format="%.8g")
    plot_figure6(data, fits, output_png)
    return Path(output_png)
