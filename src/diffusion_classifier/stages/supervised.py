"""Stages ``figures_timesteps``, ``table_objectives`` and ``schedule_study``.

All three read the per-pair errors that one-stage scoring runs stored and rescore
nothing: Figures 3 and 4 (Sec. 4.1), Table 5 (Sec. 6.3.3), and a passes-vs-accuracy
study of adaptive schedules (beyond the paper), each written as CSV beside its
figure or Markdown table.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..specs import ScheduleStudySpec
from ._outputs import table_stem
from ._registry import stage

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from ..engine.schedule import Schedule
    from ..specs import SequentialStudySpec

__all__ = ["figures_timesteps", "table_objectives", "schedule_study"]

log = logging.getLogger(__name__)


def _check_replay(cube, shard, schedule: Schedule, loss: str) -> np.ndarray:
    """Replay the run's own schedule and insist it reproduces the stored predictions."""
    import numpy as np

    from ..engine.replay import replay_schedule

    predictions = cube.label_of(replay_schedule(cube, schedule).predictions)
    stored = shard.images.set_index(shard.images["image_id"].astype(str))["prediction"].loc[cube.image_ids]
    if loss == shard.provenance["settings"]["scoring_config"]["loss"] and not np.array_equal(predictions, stored):
        raise ValueError(f"replaying the {loss!r} ranking of the stored errors does not give the stored "
                         "predictions: the shard's errors and images tables disagree; rescore it")
    return predictions


@stage("figures-timesteps")
def figures_timesteps(even_shards: list[str | Path], repeats_shards: list[str | Path], loss: str,
                      sets: dict[str, list[int]], output_dir: str | Path, names: dict | None = None) -> list[Path]:
    """Figure 3 (single-timestep accuracy) and Figure 4 (timestep strategies) + their CSVs.

    Args:
        even_shards: Shards of a one-stage run on the evenly spaced grid.
        repeats_shards: Shards of a one-stage run on an explicit grid of repeated timesteps.
        loss: The objective that ranks classes.
        sets: Fixed-set strategies of Figure 4, name -> timesteps (each on the repeats grid).
        output_dir: Where ``fig3_single_timestep.*`` and ``fig4_timestep_strategies.*`` go.
        names: ``dataset`` and ``model`` names for the titles.
    """
    import numpy as np
    import pandas as pd

    from ..artifacts import write_frame
    from ..reporting.stored_runs import iter_cubes
    from ..reporting.timestep_figures import (
        even_subsets, plot_single_timestep, plot_strategy_curves, set_strategy_subsets,
        single_timestep_correct, strategy_correct,
    )

    output_dir, names = Path(output_dir), names or {}
    single: dict[tuple[str, int, int], list[np.ndarray]] = defaultdict(list)
    curves: dict[str, dict[int, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    chance = None
    for source, shards in (("even grid", even_shards), ("repeated timesteps", repeats_shards)):
        for cubes, shard in iter_cubes(shards, [loss]):
            cube = cubes[loss]
            chance = 1.0 / cube.num_classes
            correct = single_timestep_correct(cube)
            for j, t in enumerate(cube.timesteps):
                single[(source, int(t), j)].append(correct[:, j])
            if source == "even grid":
                subsets = {"Even N (N timesteps, 1 noise each)": even_subsets(cube.errors.shape[2])}
            else:
                subsets = {name: set_strategy_subsets(cube.timesteps, list(ts)) for name, ts in sets.items()}
            for name, by_trials in subsets.items():
                for n, hit in strategy_correct(cube, by_trials).items():
                    curves[name][n].append(hit)
    if chance is None:
        raise ValueError("no scored images in the even-grid or repeats runs")

    draws = pd.DataFrame([{"source": s, "timestep": t, "grid_index": j,
                           "accuracy": 100.0 * np.concatenate(parts).mean(), "images": len(np.concatenate(parts))}
                          for (s, t, j), parts in single.items()])
    fig3 = (draws.groupby(["source", "timestep"], sort=True)
            .agg(noise_draws=("grid_index", "size"), images=("images", "first"), accuracy=("accuracy", "mean"),
                 accuracy_min=("accuracy", "min"), accuracy_max=("accuracy", "max"))
            .reset_index())
    fig4 = pd.DataFrame([row for name, by_trials in curves.items()
                         for row in _curve(name, by_trials)])
    what = f"{names.get('dataset', '')} / {names.get('model', '')}".strip(" /")
    output_dir.mkdir(parents=True, exist_ok=True)
    written = [output_dir / "fig3_single_timestep.png", output_dir / "fig4_timestep_strategies.png"]
    plot_single_timestep(fig3, chance, written[0], f"Accuracy from a single timestep ({what})")
    plot_strategy_curves(fig4, written[1], f"Timestep strategies ({what})")
    for frame, png in ((fig3, written[0]), (fig4, written[1])):
        write_frame(frame, png.with_suffix(".csv"), float_format="%.6g")
        written.append(png.with_suffix(".csv"))
    return written


def _curve(name: str, by_trials: dict[int, list[np.ndarray]]) -> list[dict]:
    import numpy as np

    from ..reporting.stored_runs import accuracy_fields

    return [{"strategy": name, "trials": n, **accuracy_fields(np.concatenate(parts))}
            for n, parts in sorted(by_trials.items())]


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
    import numpy as np
    import pandas as pd

    from ..reporting import write_table
    from ..reporting.objectives_table import OBJECTIVE_LABELS, paper_value
    from ..reporting.stored_runs import accuracy_fields, iter_cubes, stored_schedule

    rows = []
    for run in runs:
        hits: dict[str, list[np.ndarray]] = defaultdict(list)
        for cubes, shard in iter_cubes(run["shards"], objectives):
            for objective, cube in cubes.items():
                schedule = stored_schedule(shard.provenance, cube)
                hits[objective].append(_check_replay(cube, shard, schedule, objective) == cube.labels)
        for objective in objectives:
            paper, setting = paper_value(run.get("paper"), objective)
            rows.append({"dataset": run["dataset"], "model": run["model"], "strategy": run["strategy"],
                         "objective": OBJECTIVE_LABELS.get(objective, objective),
                         **accuracy_fields(np.concatenate(hits[objective])),
                         "paper_accuracy": paper, "paper_setting": setting})
    frame = pd.DataFrame(rows)
    caption = ("Table 5: accuracy (%) by classification objective, all from one stored scoring pass per run "
               "(99.5% Clopper-Pearson interval); paper = the paper's Table 5 value for the named setting.")
    return list(write_table(frame, table_stem(output_md, output_csv), caption))


@stage("schedule-study")
def run_schedule_study(shard_dirs: list[str], study: dict, output_md: str, output_csv: str, output_figure: str, *,
                       direct: list[dict] = (), names: dict | None = None, sequential_runs: list[dict] = (),
                       output_sequential: tuple[str, str] | None = None) -> list[Path]:
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
        output_sequential: Table stem and figure of the sequential study (with ``study.sequential``).
    """
    from dataclasses import asdict

    from ..specs import from_dict

    fields = asdict(from_dict(ScheduleStudySpec, study, "supervised.schedules"))
    return schedule_study(
        shard_dirs,
        fields.pop("loss"),
        table_stem(output_md, output_csv),
        output_figure,
        direct=direct,
        names=names,
        sequential_runs=sequential_runs,
        output_sequential=output_sequential,
        **fields,
    )


def schedule_study(shards: list[str | Path], loss: str, output_stem: str | Path, output_figure: str | Path, *,
                   two_stage_evaluations: list[int] = (), two_stage_keep: list[int] = (),
                   schedules: list[dict] = (), direct: list[dict] = (), names: dict | None = None,
                   sequential: dict | None = None, sequential_runs: list[dict] = (),
                   output_sequential: tuple[str | Path, str | Path] | None = None) -> list[Path]:
    """Accuracy against passes per image for many adaptive schedules, replayed from one run.

    Args:
        shards: Shards of a one-stage run; every schedule replays on its grid.
        loss: The objective that ranks classes.
        output_stem: ``<stem>.md`` / ``<stem>.csv``.
        output_figure: PNG of accuracy against passes.
        two_stage_evaluations, two_stage_keep: Product of two-stage schedules (n, grid) x (k, 1).
        schedules: Further ``{evaluations, keep}`` schedules ending on the stored grid.
        direct: ``{strategy, shards}`` of adaptive runs scored directly on the same grid
            and images: each is replayed and compared (prediction agreement, error difference).
        names: ``dataset`` and ``model`` names for the title.
        sequential: :class:`SequentialStudySpec` fields; its k curve joins the table and
            figure of this run, and :func:`sequential_study` measures it on this run and
            on ``sequential_runs`` (``{name, shards}`` of further one-stage runs), written
            to ``output_sequential`` (table stem, figure).
    """
    import numpy as np
    import pandas as pd

    from ..artifacts import read_images
    from ..engine.replay import replay_schedule
    from ..engine.schedule import Schedule
    from ..reporting import write_table
    from ..reporting.schedule_study import candidate_schedules, plot_passes_vs_accuracy, schedule_label
    from ..reporting.stored_runs import accuracy_fields, iter_cubes, stored_schedule
    from ..specs import SequentialStudySpec, from_dict

    seq_spec = from_dict(SequentialStudySpec, sequential, "supervised.schedules.study.sequential")\
        if sequential else None
    direct_info = []
    for run in direct:
        images = read_images(run["shards"])
        provenance = pd.read_json(Path(run["shards"][0]) / "provenance.json", typ="series")
        config = provenance["settings"]["scoring_config"]
        direct_info.append({"strategy": run["strategy"], "shards": run["shards"], "images": images,
                            "loss": config["loss"], "evaluations": tuple(config["schedule"]["evaluations"]),
                            "keep": tuple(config["schedule"]["keep"])})
    objectives = sorted({loss, *(d["loss"] for d in direct_info)})

    results: dict[tuple, dict] = {}
    for cubes, shard in iter_cubes(shards, objectives):
        base = stored_schedule(shard.provenance, cubes[loss])
        todo = {(s.evaluations, s.keep, loss): s for s in candidate_schedules(
            cubes[loss].errors.shape[2], base.num_train_timesteps, list(two_stage_evaluations),
            list(two_stage_keep), list(schedules))}
        for info in direct_info:
            todo.setdefault((info["evaluations"], info["keep"], info["loss"]),
                            Schedule(info["evaluations"], info["keep"], base.num_train_timesteps))
        replays = {}
        for key, schedule in todo.items():
            cube = cubes[key[2]]
            replays[key] = replay_schedule(cube, schedule)
            entry = results.setdefault(key, {"schedule": schedule, "loss": key[2], "hit": [], "passes": []})
            entry["hit"].append(cube.label_of(replays[key].predictions) == cube.labels)
            entry["passes"].append(replays[key].passes)
        for info in direct_info:
            key = (info["evaluations"], info["keep"], info["loss"])
            cube = cubes[info["loss"]]
            _compare_direct(results[key], info, cube, cube.label_of(replays[key].predictions))
    if not results:
        raise ValueError(f"no scored images in {list(map(str, shards))}")

    run_name = "/".join(str((names or {}).get(k, "")) for k in ("dataset", "model")).strip("/") or "study run"
    written: list[Path] = []
    seq_tallies = {}
    if seq_spec is not None:
        runs = [{"name": run_name, "shards": shards}, *sequential_runs]
        frame_seq, seq_tallies = sequential_study(runs, loss, seq_spec)
        if output_sequential is None:
            raise ValueError("a sequential study needs sequential_out (table stem, figure)")
        written += _write_sequential(frame_seq, seq_spec, *output_sequential)
        seq_tallies = seq_tallies[run_name]

    rows = []
    for label, tally in seq_tallies.items():
        if tally["kind"] != "sequential":
            continue
        rows.append({"schedule": label, "strategy": "sequential", "stages": tally["blocks"],
                     "evaluations": str(tally["grid"]), "keep": "", "loss": loss,
                     "passes_per_image": float(np.concatenate(tally["passes"]).mean()),
                     **accuracy_fields(np.concatenate(tally["hit"]))})
    for entry in results.values():
        schedule = entry["schedule"]
        row = {"schedule": schedule_label(schedule), "strategy": "schedule", "stages": len(schedule.evaluations),
               "evaluations": "/".join(map(str, schedule.evaluations)), "keep": "/".join(map(str, schedule.keep)),
               "loss": entry["loss"], "passes_per_image": float(np.concatenate(entry["passes"]).mean()),
               **accuracy_fields(np.concatenate(entry["hit"]))}
        if "direct" in entry:
            d = entry["direct"]
            row.update({"direct_run": d["strategy"], "direct_accuracy": 100.0 * d["correct"] / d["images"],
                        "replay_agreement": 100.0 * d["agree"] / d["images"],
                        "max_error_difference": d["max_diff"]})
        rows.append(row)
    frame = pd.DataFrame(rows)
    main = frame[frame["loss"] == loss].copy()
    one_stage = main[(main["strategy"] == "schedule") & (main["stages"] == 1)].iloc[0]
    main["reaches_one_stage"] = main["correct"] >= one_stage["correct"]
    frame = frame.merge(main[["schedule", "loss", "reaches_one_stage"]], how="left", on=["schedule", "loss"])
    frame = frame.sort_values(["loss", "passes_per_image", "accuracy"], ascending=[True, True, False],
                              kind="stable").reset_index(drop=True)
    reaching = main[main["reaches_one_stage"]].sort_values(["passes_per_image", "accuracy"], ascending=[True, False])
    best = reaching.iloc[0]
    caption = (f"Passes vs accuracy (%), {len(main)} schedules replayed from the stored one-stage {loss} run "
               f"({int(one_stage['images'])} images). One stage: {one_stage['accuracy']:.2f}% at "
               f"{one_stage['passes_per_image']:.0f} passes; fewest passes reaching it: {best['schedule']} "
               f"({best['accuracy']:.2f}% at {best['passes_per_image']:.0f} passes). direct_*: an adaptive run "
               "scored directly, compared with its replay.")
    what = f"{(names or {}).get('dataset', '')} / {(names or {}).get('model', '')}".strip(" /")
    Path(output_figure).parent.mkdir(parents=True, exist_ok=True)
    plot_passes_vs_accuracy(main, output_figure, f"Adaptive schedules replayed ({what})")
    log.info(caption)
    return [*write_table(frame, output_stem, caption), Path(output_figure), *written]


def sequential_study(runs: list[dict], loss: str, spec: SequentialStudySpec) -> tuple[pd.DataFrame, dict]:
    """The sequential strategy over ``k`` against one stage and the reference schedule, per run.

    Args:
        runs: ``{name, shards}`` of one-stage runs (each replayed shard by shard).
        loss: The objective that ranks classes.
        spec: The k curve, block, min_points and the reference schedule.

    Returns:
        The table (:func:`sequential_rows` per run) and the raw tallies by run and rule.
    """
    import pandas as pd

    from ..engine.replay import replay_schedule
    from ..engine.sequential import replay_sequential
    from ..reporting.schedule_study import schedule_label, sequential_rows
    from ..reporting.stored_runs import iter_cubes, stored_schedule

    configs = spec.configs()
    rows, tallies_by_run = [], {}
    for run in runs:
        tallies: dict[str, dict] = {}
        reference_label = None
        for cubes, shard in iter_cubes(run["shards"], [loss]):
            cube = cubes[loss]
            base = stored_schedule(shard.provenance, cube)
            one = replay_schedule(cube, base)
            rules = [("one stage", "schedule", None, one)]
            reference = spec.reference_schedule(base)
            if reference is not None:
                reference_label = f"reference {schedule_label(reference)}"
                rules.append((reference_label, "schedule", None, replay_schedule(cube, reference)))
            rules += [(c.label(), "sequential", c, replay_sequential(cube, c)) for c in configs]
            for label, kind, config, result in rules:
                t = tallies.setdefault(label, {"kind": kind, "hit": [], "agree": [], "passes": [],
                                               "grid": cube.errors.shape[2]})
                if config is not None:
                    t["k"], t["blocks"] = config.k, len(result.kept)
                t["hit"].append(result.predictions == cube.labels)
                t["agree"].append(result.predictions == one.predictions)
                t["passes"].append(result.passes)
        if not tallies:
            raise ValueError(f"run {run['name']}: no scored images in {list(map(str, run['shards']))}")
        rows += sequential_rows(run["name"], tallies, reference_label)
        tallies_by_run[run["name"]] = tallies
    return pd.DataFrame(rows), tallies_by_run


def _write_sequential(frame: pd.DataFrame, spec: SequentialStudySpec, out_stem: str | Path,
                      figure: str | Path) -> list[Path]:
    """The sequential study's table (with the goal's verdict per run in the caption) and figure."""
    import pandas as pd

    from ..reporting import write_table
    from ..reporting.schedule_study import plot_sequential

    verdicts = []
    for run, part in frame.groupby("run", sort=False):
        seq = part[part["kind"] == "sequential"]
        met = seq[seq["meets_goal"].astype(bool)].sort_values("passes_per_image")
        if met.empty:
            verdicts.append(f"{run}: goal not met by any k")
        else:
            best = met.iloc[0]
            ref = (
                f", {best['reference_fraction']:.2f} of the reference's" if pd.notna(best["reference_fraction"]) else ""
            )
            verdicts.append(f"{run}: met by k={best['k']:g} ({best['accuracy']:.2f}%, "
                            f"{best['agreement_with_one_stage']:.1f}% agreement, {best['passes_per_image']:.0f} "
                            f"passes = {best['one_stage_fraction']:.2f} of one stage's{ref})")
    caption = (f"Sequential elimination (block {spec.block}, min_points {spec.min_points}) replayed over k on "
               "stored one-stage errors, beside one stage and the reference adaptive schedule. Goal: accuracy "
               "within one stage's 99.5% interval, >= 99% agreement with its predictions, <= 1/5 of its passes "
               "and <= 1/2 of the reference's. " + "; ".join(verdicts) + ".")
    Path(figure).parent.mkdir(parents=True, exist_ok=True)
    plot_sequential(frame, figure)
    log.info(caption)
    return [*write_table(frame, out_stem, caption), Path(figure)]


def _compare_direct(entry: dict, info: dict, cube, predictions: np.ndarray) -> None:
    """Accumulate how a directly scored adaptive run compares with its replay on this shard."""
    import numpy as np
    import pandas as pd

    from ..artifacts import read_errors

    images = info["images"].set_index(info["images"]["image_id"].astype(str))
    present = np.isin(cube.image_ids, images.index)
    if not present.any():
        return
    ids = cube.image_ids[present]
    direct_pred = images.loc[ids, "prediction"].to_numpy()
    errors = read_errors(info["shards"], image_ids=list(ids))
    row = pd.Index(cube.image_ids).get_indexer(errors["image_id"])
    stored = cube.errors[row, errors["condition"].to_numpy(np.int64), errors["grid_index"].to_numpy(np.int64)]
    diff = float(np.abs(stored - errors[f"error_{info['loss']}"].to_numpy(np.float32)).max())
    d = entry.setdefault("direct", {"strategy": info["strategy"], "images": 0, "agree": 0, "correct": 0,
                                    "max_diff": 0.0})
    d["images"] += int(present.sum())
    d["agree"] += int((predictions[present] == direct_pred).sum())
    d["correct"] += int(images.loc[ids, "correct"].sum())
    d["max_diff"] = max(d["max_diff"], diff)
