"""Stages ``figures_timesteps``, ``table_objectives``, ``schedule_study``, ``fit_calibration``
and ``class_count_study``.

The first four read the per-pair errors that one-stage scoring runs stored and rescore
nothing: Figures 3 and 4 (Sec. 4.1), Table 5 (Sec. 6.3.3), and a passes-vs-accuracy
study of adaptive schedules (beyond the paper), each written as CSV beside its
figure or Markdown table. The class-count study (beyond the paper) scores a model known
in closed form at 10 to 1,000 classes and replays the same strategies on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ._outputs import table_and_figure, table_stem
from ._registry import stage

__all__ = ["figures_timesteps", "table_objectives", "run_schedule_study", "fit_calibration",
           "run_class_count_study"]

log = logging.getLogger(__name__)


@stage("figures-timesteps")
def figures_timesteps(even_shards: list[str | Path], repeats_shards: list[str | Path], loss: str,
                      sets: dict[str, list[int]], output_fig3_png: str | Path, output_fig3_csv: str | Path,
                      output_fig4_png: str | Path, output_fig4_csv: str | Path,
                      names: dict | None = None) -> list[Path]:
    """Figure 3 (single-timestep accuracy) and Figure 4 (timestep strategies) + their CSVs.

    Args:
        even_shards: Shards of a one-stage run on the evenly spaced grid.
        repeats_shards: Shards of a one-stage run on an explicit grid of repeated timesteps.
        loss: The objective that ranks classes.
        sets: Fixed-set strategies of Figure 4, name -> timesteps (each on the repeats grid).
        output_fig3_png, output_fig3_csv: Figure 3 and the data behind it.
        output_fig4_png, output_fig4_csv: Figure 4 and the data behind it.
        names: ``dataset`` and ``model`` names for the titles.
    """
    from ..artifacts import write_frame
    from ..reporting.timestep_figures import error_curves, plot_single_timestep, plot_strategy_curves

    names = names or {}
    fig3, fig4, chance = error_curves(even_shards, repeats_shards, loss, sets)
    what = f"{names.get('dataset', '')} / {names.get('model', '')}".strip(" /")
    plot_single_timestep(fig3, chance, output_fig3_png, f"Accuracy from a single timestep ({what})")
    plot_strategy_curves(fig4, output_fig4_png, f"Timestep strategies ({what})")
    write_frame(fig3, output_fig3_csv, float_format="%.6g")
    write_frame(fig4, output_fig4_csv, float_format="%.6g")
    return [Path(p) for p in (output_fig3_png, output_fig4_png, output_fig3_csv, output_fig4_csv)]


@stage("table-objectives")
def table_objectives(
    runs: list[dict], objectives: list[str], output_md: str | Path, output_csv: str | Path
) -> list[Path]:
    """Table 5: accuracy of each objective, from one stored pass per run.

    Args:
        runs: ``{dataset, model, strategy, shards, paper}`` per run; ``paper`` is an
            optional ``{resolution, dataset}`` key into the paper's Table 5.
        objectives: Objective columns to compare (stored by the runs).
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    from ..reporting import write_table
    from ..reporting.objectives_table import TABLE5_CAPTION, TABLE5_PAPER_COLUMNS, objectives_frame
    from ..reporting.tables import without_paper_columns

    frame = objectives_frame(runs, objectives)
    display, caption = without_paper_columns(frame, TABLE5_CAPTION, TABLE5_PAPER_COLUMNS)
    return list(write_table(frame, table_stem(output_md, output_csv), caption, display))


@stage("schedule-study")
def run_schedule_study(shard_dirs: list[str], study: dict, output_md: str, output_csv: str, output_figure: str, *,
                       direct: list[dict] = (), names: dict | None = None, sequential_runs: list[dict] = (),
                       output_sequential: list[str] = ()) -> list[Path]:
    """Passes vs accuracy of adaptive schedules replayed from stored errors.

    Args:
        shard_dirs: Shards of a one-stage run.
        study: The ``supervised.schedules`` study section (:class:`ScheduleStudySpec` fields).
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
        output_figure: PNG of accuracy against passes.
        direct: JSON list of ``{strategy, shards}`` of adaptive runs scored directly.
        names: ``dataset`` and ``model`` names for the title.
        sequential_runs: JSON list of ``{name, shards}``: further one-stage runs for the sequential curve.
        output_sequential: The sequential study's table (``.md``, ``.csv``) and figure (``.png``),
            with ``study.sequential``; none without.
    """
    from dataclasses import asdict

    from ..errors import UserError
    from ..reporting import write_table
    from ..reporting.schedule_study import (plot_passes_vs_accuracy, plot_sequential, schedule_headline,
                                            schedule_study)
    from ..specs import ScheduleStudySpec, SequentialStudySpec, from_dict

    fields = asdict(from_dict(ScheduleStudySpec, study, "supervised.schedules"))
    sequential = fields.pop("sequential")
    spec = from_dict(SequentialStudySpec, sequential, "supervised.schedules.study.sequential") if sequential else None
    if (spec is None) != (not output_sequential):
        raise UserError("--output-sequential: give the sequential study's .md, .csv and .png exactly when the "
                        "study has a sequential section (supervised.schedules.study.sequential)")
    names = names or {}
    run_name = "/".join(str(names.get(k, "")) for k in ("dataset", "model")).strip("/") or "study run"
    loss = fields.pop("loss")
    result = schedule_study(shard_dirs, loss, direct=direct, run_name=run_name, sequential=spec,
                            sequential_runs=sequential_runs, **fields)
    written: list[Path] = []
    if spec is not None:
        seq_stem, seq_figure = table_and_figure(output_sequential, "--output-sequential")
        plot_sequential(result.sequential, seq_figure)
        log.info(result.sequential_caption)
        written = [*write_table(result.sequential, seq_stem, result.sequential_caption), Path(seq_figure)]
    what = f"{names.get('dataset', '')} / {names.get('model', '')}".strip(" /")
    plot_passes_vs_accuracy(result.main, output_figure, f"Adaptive schedules replayed ({what})")
    log.info(result.caption)
    headline, note = schedule_headline(result.frame, loss)
    return [*write_table(result.frame, table_stem(output_md, output_csv), f"{result.caption}\n\n{note}", headline),
            Path(output_figure), *written]


@stage("fit-calibration")
def fit_calibration(shards: list[str | Path], loss: str, output: str | Path, images: int = 20) -> Path:
    """The sequential strategy's calibration (``test: conditional``) from a stored one-stage run.

    Fitted on the run's first ``images`` images (sorted ids, shard by shard), labels
    unread. A direct run names the file in ``sequential.calibration``; its images should
    not be among the ones it calibrates (score a calibration split, e.g. some train images).

    Args:
        shards: Shards of a one-stage run on the grid the sequential runs will use.
        loss: The objective that ranks classes (the sequential strategy's ``loss``).
        output: The calibration JSON (engine.sequential.Calibration, with its provenance).
        images: Calibration images.
    """
    import numpy as np

    from ..artifacts import code_version
    from ..engine.sequential import Calibration
    from ..errors import UserError
    from ..reporting.stored_runs import iter_cubes

    cubes, ids, timesteps = [], [], None
    for found, _ in iter_cubes(shards, [loss]):
        cube = found[loss]
        if timesteps is not None and not np.array_equal(timesteps, cube.timesteps):
            raise UserError(f"the shards {list(map(str, shards))} are not on one grid: fit on one run's shards")
        timesteps = cube.timesteps
        take = images - sum(map(len, cubes))
        cubes.append(cube.errors[:take])
        ids += cube.image_ids[:take].tolist()
        if sum(map(len, cubes)) >= images:
            break
    if sum(map(len, cubes)) < images:
        raise UserError(f"{list(map(str, shards))} hold {sum(map(len, cubes))} scored images, fewer than "
                        f"--images {images}: lower it or score more")
    calibration = Calibration.fit(np.concatenate(cubes), timesteps=timesteps)
    calibration.save(output, {"shards": [str(s) for s in shards], "loss": loss, "image_ids": ids,
                              "code_version": code_version()})
    log.info("calibration of %d grid points from %d images -> %s", calibration.grid_size, images, output)
    return Path(output)


@stage("class-count-study", threads=True)
def run_class_count_study(study: dict, output_md: str, output_csv: str, output_figure: str) -> list[Path]:
    """Sequential elimination against the class count, on a Gaussian model with an exact noise prediction.

    Args:
        study: The ``supervised.schedules.class_count`` section (:class:`ClassCountStudySpec` fields).
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
        output_figure: PNG of passes and agreement with one stage against the class count.
    """
    from ..reporting import write_table
    from ..reporting.class_count_study import class_count_study, plot_class_count
    from ..specs import ClassCountStudySpec, from_dict

    result = class_count_study(from_dict(ClassCountStudySpec, study, "supervised.schedules.class_count"))
    plot_class_count(result.frame, output_figure)
    log.info(result.caption)
    return [*write_table(result.frame, table_stem(output_md, output_csv), result.caption), Path(output_figure)]
