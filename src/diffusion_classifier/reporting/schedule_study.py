"""Passes against accuracy for adaptive schedules, replayed from one stored one-stage run.

Beyond the paper: Algorithm 2's KeepList / TrialList were "not significantly tuned"
(Sec. 4.2). Because noise ``j`` belongs to grid point ``j``, every schedule whose
grid is the stored one replays exactly (:func:`..engine.replay.replay_schedule`), so
the trade-off can be measured for many schedules at the cost of one scoring run.
The sequential elimination strategy (:mod:`..engine.sequential`) replays the same
way; its curve over ``k`` is measured on every named one-stage run against one stage
and a paper-style adaptive schedule (:func:`sequential_study`, :func:`plot_sequential`).
:func:`schedule_study` is the whole study: its table, figure data and captions.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..engine.schedule import Schedule
from .figures import plain_log_axis, pyplot, save_figure
from .stored_runs import accuracy_fields

if TYPE_CHECKING:
    from ..specs import SequentialStudySpec

__all__ = ["candidate_schedules", "schedule_label", "plot_passes_vs_accuracy",
           "sequential_rows", "plot_sequential", "GOAL", "StudyResult", "schedule_study", "sequential_study",
           "add_sequential_tallies",
           "sequential_caption"]


def schedule_label(schedule: Schedule) -> str:
    """``keep 5/1, trials 2/25`` style label."""
    return (f"keep {'/'.join(map(str, schedule.keep))}, "
            f"trials {'/'.join(map(str, schedule.evaluations))}")


def candidate_schedules(grid_size: int, num_train_timesteps: int, two_stage_evaluations: list[int],
                        two_stage_keep: list[int], schedules: list[dict]) -> list[Schedule]:
    """The one-stage schedule, every two-stage (n, grid) x (k, 1), and the listed ones.

    Every schedule ends on the stored grid (its last TrialList entry is the grid
    size), which is what makes it replayable; others are refused.
    """
    out = [Schedule((grid_size,), (1,), num_train_timesteps)]
    for n, k in product(two_stage_evaluations, two_stage_keep):
        if n < grid_size:
            out.append(Schedule((n, grid_size), (k, 1), num_train_timesteps))
    for i, spec in enumerate(schedules):
        evaluations, keep = tuple(spec["evaluations"]), tuple(spec.get("keep", [1]))
        if max(evaluations) != grid_size:
            raise ValueError(f"schedules[{i}] {spec}: its largest TrialList entry must be the stored grid "
                             f"size {grid_size} to replay exactly")
        out.append(Schedule(evaluations, keep, num_train_timesteps))
    unique: dict[tuple, Schedule] = {}
    for schedule in out:
        unique.setdefault((schedule.evaluations, schedule.keep), schedule)
    return list(unique.values())


# The stage counts' colours in the passes-vs-accuracy figure: tab10 without its red and grey.
STAGE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                 "tab:cyan")


def best_front(schedules: pd.DataFrame) -> pd.DataFrame:
    """The schedules that no cheaper one beats: accuracy at least the best of every schedule
    with as few passes per image, by passes."""
    front = schedules.sort_values(["passes_per_image", "accuracy"], ascending=[True, False])
    return front[front["accuracy"] >= front["accuracy"].cummax()]


def schedule_headline(frame: pd.DataFrame, loss: str) -> tuple[pd.DataFrame, str]:
    """The study's short table for a reader, and the sentence that says where the rest is.

    The rows of ``loss`` on the best front (:func:`best_front`), the one-stage schedule, and
    the schedules compared with a directly scored run (of any loss); every row stays in the CSV.
    """
    main = frame[(frame["loss"] == loss) & (frame["strategy"] == "schedule")]
    keep = set(best_front(main).index) | set(main.index[main["stages"] == 1])
    if "direct_run" in frame:  # of any loss: each is checked against its own replay
        keep |= set(frame.index[frame["direct_run"].notna()])
    shown = frame.loc[sorted(keep)].dropna(axis=1, how="all")
    shown = shown.drop(columns=[c for c in ("strategy", "stages", "correct") if c in shown])
    note = (f"Shown: {len(shown)} of the {len(frame)} rows (all in the CSV): the schedules no cheaper one beats, "
            "the one-stage schedule and those also scored directly.")
    return shown, note


def plot_passes_vs_accuracy(frame: pd.DataFrame, target: str | Path, title: str) -> None:
    """Accuracy (%) against passes per image, one point per schedule, best front joined."""
    fig, ax = pyplot().subplots(figsize=(7.5, 3.6))
    sequential = frame["strategy"] == "sequential" if "strategy" in frame else pd.Series(False, frame.index)
    schedules = frame[~sequential]
    # One colour per stage count, none of them the sequential curve's red, the front's grey or
    # the one-stage line's black.
    counts = sorted(schedules["stages"].unique())
    if len(counts) > len(STAGE_COLOURS):
        raise ValueError(f"schedules of {len(counts)} stage counts: the figure tells {len(STAGE_COLOURS)} apart")
    for colour, stages in zip(STAGE_COLOURS, counts):
        part = schedules[schedules["stages"] == stages]
        ax.scatter(part["passes_per_image"], part["accuracy"], s=14, color=colour,
                   label=f"{stages} stage{'s' if stages != 1 else ''}")
    front = best_front(schedules)
    ax.plot(front["passes_per_image"], front["accuracy"], "-", c="grey", lw=1, label="best so far (front)")
    if sequential.any():
        seq = frame[sequential].sort_values("passes_per_image")
        ax.plot(seq["passes_per_image"], seq["accuracy"], "^-", ms=4, c="tab:red", lw=1,
                label="sequential elimination (over k)")
    one = schedules[schedules["stages"] == 1]
    ax.axhline(float(one["accuracy"].iloc[0]), ls=":", c="k", lw=1, label="one-stage accuracy")
    plain_log_axis(ax)
    ax.set(xlabel="noise-predictor passes per image", ylabel="accuracy (%)", title=title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="schedule", title_fontsize=7)
    fig.tight_layout()
    save_figure(fig, target)


# --- the sequential elimination strategy (engine.sequential) beside the schedules -----
# Goal of the sequential strategy (beyond the paper): the one-stage answer at a fraction of its cost.
GOAL = {"min_agreement": 99.0, "max_one_stage_fraction": 1 / 5, "max_reference_fraction": 1 / 2}


def sequential_rows(run: str, tallies: dict[str, dict], reference_label: str | None) -> list[dict]:
    """One row per replayed rule of one run, with agreement with one stage and the goal's tests.

    Args:
        run: Name of the run (``dataset / model / strategy``).
        tallies: Rule label -> ``{kind, hit, agree, passes}`` arrays over the run's images
            (and ``calibration_passes``: the one-off cost of a conditional test's calibration
            set; the goal is per image, without it, and the table shows it amortised over
            the run's images); ``one stage`` must be among them.
        reference_label: Label of the paper-style adaptive schedule among the tallies.
    """
    one = tallies["one stage"]
    one_fields = accuracy_fields(np.concatenate(one["hit"]))
    one_passes = float(np.concatenate(one["passes"]).mean())
    ref_passes = float(np.concatenate(tallies[reference_label]["passes"]).mean()) if reference_label else None
    rows = []
    for label, t in tallies.items():
        passes = float(np.concatenate(t["passes"]).mean())
        fields = accuracy_fields(np.concatenate(t["hit"]))
        images = len(np.concatenate(t["passes"]))
        row = {"run": run, "rule": label, "kind": t["kind"], "k": t.get("k"), "passes_per_image": passes,
               **fields, "agreement_with_one_stage": 100.0 * float(np.concatenate(t["agree"]).mean()),
               "one_stage_fraction": passes / one_passes,
               "reference_fraction": passes / ref_passes if ref_passes else None,
               "calibration_passes": t.get("calibration_passes", 0),
               "passes_per_image_with_calibration": passes + t.get("calibration_passes", 0) / images}
        if t["kind"] == "sequential":
            row["meets_goal"] = bool(
                one_fields["ci_low"] <= fields["accuracy"] <= one_fields["ci_high"]
                and row["agreement_with_one_stage"] >= GOAL["min_agreement"]
                and row["one_stage_fraction"] <= GOAL["max_one_stage_fraction"]
                and (ref_passes is None or row["reference_fraction"] <= GOAL["max_reference_fraction"]))
        rows.append(row)
    return rows


def plot_sequential(frame: pd.DataFrame, target: str | Path) -> None:
    """Per run: accuracy and agreement with one stage against passes, the k curve vs the schedules."""
    runs = list(dict.fromkeys(frame["run"]))
    fig, axes = pyplot().subplots(len(runs), 2, figsize=(9, 2.8 * len(runs) + 0.9), squeeze=False)
    for (acc_ax, agree_ax), run in zip(axes, runs):
        part = frame[frame["run"] == run]
        seq = part[part["kind"] == "sequential"].sort_values("passes_per_image")
        fixed = part[part["kind"] != "sequential"]
        calibrated = "calibration_passes" in seq and seq["calibration_passes"].gt(0).any()
        for ax, column in ((acc_ax, "accuracy"), (agree_ax, "agreement_with_one_stage")):
            ax.plot(seq["passes_per_image"], seq[column], "o-", ms=3, label="sequential (over k)")
            if calibrated:
                ax.plot(seq["passes_per_image_with_calibration"], seq[column], "o--", ms=2, lw=0.8, c="C0",
                        alpha=0.5, label="with its calibration set amortised")
            for k, x, y in zip(seq["k"], seq["passes_per_image"], seq[column]):
                ax.annotate(f"{k:g}", (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
            # The fixed schedules: one stage in black, the others in colours the curve (C0) does not use.
            for i, (_, row) in enumerate(fixed.iterrows()):
                ax.scatter(row["passes_per_image"], row[column], marker="s", s=18, label=row["rule"],
                           color="k" if row["rule"] == "one stage" else f"C{i + 1}")
            plain_log_axis(ax)
            ax.set(xlabel="noise-predictor passes per image")
        one = fixed[fixed["rule"] == "one stage"].iloc[0]
        acc_ax.axhspan(one["ci_low"], one["ci_high"], color="grey", alpha=0.15, lw=0, label="one stage 99.5% CI")
        agree_ax.axhline(GOAL["min_agreement"], ls=":", c="k", lw=1, label=f"{GOAL['min_agreement']:g}% goal")
        acc_ax.set(ylabel="accuracy (%)", title=run)
        agree_ax.set(ylabel="agreement with one stage (%)", title=run)
    # One legend for every panel (the same series in each), below them, covering no point.
    legend: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.tight_layout(rect=(0, 0.9 / (2.8 * len(runs) + 0.9), 1, 1))
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=min(len(legend), 3), fontsize=7,
               frameon=False, title="numbers beside the curve: k", title_fontsize=7)
    save_figure(fig, target)


# --- the study: every schedule replayed from one run, beside directly scored runs ---------
@dataclass(frozen=True)
class StudyResult:
    """The study's tables and captions.

    Attributes:
        frame: One row per replayed schedule and loss (and per k of the sequential
            curve), sorted by loss, passes, accuracy: the table.
        main: The rows of the study's loss, unsorted: the figure.
        caption: The table's caption (one stage, and the fewest passes reaching it).
        sequential: The sequential study's table (:func:`sequential_study`); None without one.
        sequential_caption: Its caption, with the goal's verdict per run.
    """

    frame: pd.DataFrame
    main: pd.DataFrame
    caption: str
    sequential: pd.DataFrame | None = None
    sequential_caption: str = ""


def schedule_study(shards: list[str | Path], loss: str, *, two_stage_evaluations: list[int] = (),
                   two_stage_keep: list[int] = (), schedules: list[dict] = (), direct: list[dict] = (),
                   run_name: str = "study run", sequential: SequentialStudySpec | None = None,
                   sequential_runs: list[dict] = ()) -> StudyResult:
    """Accuracy against passes per image for many adaptive schedules, replayed from one run.

    Args:
        shards: Shards of a one-stage run; every schedule replays on its grid.
        loss: The objective that ranks classes.
        two_stage_evaluations, two_stage_keep: Product of two-stage schedules (n, grid) x (k, 1).
        schedules: Further ``{evaluations, keep}`` schedules ending on the stored grid.
        direct: ``{strategy, shards}`` of adaptive runs scored directly on the same grid
            and images: each is replayed and compared (prediction agreement, error difference).
        run_name: The run's name in the sequential study.
        sequential: The k curve; it joins the table and figure of this run, and
            :func:`sequential_study` measures it on this run and on ``sequential_runs``
            (``{name, shards}`` of further one-stage runs).
    """
    study_run = {"name": run_name, "tallies": {}, "reference_label": None}
    results = _replay_schedules(shards, loss, two_stage_evaluations, two_stage_keep, schedules, direct,
                                sequential, study_run)
    seq_frame, seq_caption, seq_tallies = None, "", {}
    if sequential is not None:
        seq_frame, tallies = sequential_study([study_run, *sequential_runs], loss, sequential)
        seq_caption, seq_tallies = sequential_caption(seq_frame, sequential), tallies[run_name]

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
    return StudyResult(frame, main, caption, seq_frame, seq_caption)


def _replay_schedules(shards, loss: str, two_stage_evaluations, two_stage_keep, schedules,
                      direct, sequential: SequentialStudySpec | None, study_run: dict) -> dict[tuple, dict]:
    """Per ``(evaluations, keep, loss)``: the schedule, its hits and passes over every shard,
    and (for a directly scored run) how the run compares with its replay. With ``sequential``,
    the sequential study's tallies of the same shards go to ``study_run`` (each shard is read once)."""
    from ..artifacts import read_images
    from ..engine.replay import replay_schedule
    from .stored_runs import iter_cubes, stored_schedule

    direct_info = []
    for run in direct:
        provenance = pd.read_json(Path(run["shards"][0]) / "provenance.json", typ="series")
        config = provenance["settings"]["scoring_config"]
        direct_info.append({"strategy": run["strategy"], "shards": run["shards"], "images": read_images(run["shards"]),
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
        if sequential is not None:
            study_run["reference_label"] = add_sequential_tallies(study_run["tallies"], cubes[loss],
                                                                  shard.provenance, sequential)
    if not results:
        raise ValueError(f"no scored images in {list(map(str, shards))}")
    return results


def _compare_direct(entry: dict, info: dict, cube, predictions: np.ndarray) -> None:
    """Accumulate how a directly scored adaptive run compares with its replay on this shard."""
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


def sequential_study(runs: list[dict], loss: str, spec: SequentialStudySpec) -> tuple[pd.DataFrame, dict]:
    """The sequential strategy over ``k`` against one stage and the reference schedule, per run.

    Args:
        runs: ``{name, shards}`` of one-stage runs (each replayed shard by shard), or
            ``{name, tallies, reference_label}`` of a run already replayed
            (:func:`add_sequential_tallies`, as :func:`schedule_study` does while it holds
            the shards' cubes).
        loss: The objective that ranks classes.
        spec: The k curve, block, min_points and the reference schedule.

    Returns:
        The table (:func:`sequential_rows` per run) and the raw tallies by run and rule.
    """
    from .stored_runs import iter_cubes

    rows, tallies_by_run = [], {}
    for run in runs:
        tallies, reference_label = run.get("tallies"), run.get("reference_label")
        if tallies is None:
            tallies = {}
            for cubes, shard in iter_cubes(run["shards"], [loss]):
                reference_label = add_sequential_tallies(tallies, cubes[loss], shard.provenance, spec)
        if not tallies:
            raise ValueError(f"run {run['name']}: no scored images in {list(map(str, run.get('shards', [])))}")
        rows += sequential_rows(run["name"], tallies, reference_label)
        tallies_by_run[run["name"]] = tallies
    return pd.DataFrame(rows), tallies_by_run


def add_sequential_tallies(tallies: dict[str, dict], cube, provenance: dict, spec: SequentialStudySpec) -> str | None:
    """Replay one stage, the reference schedule and every ``k`` of ``spec`` on one shard's
    cube, adding hits, agreement with one stage and passes to ``tallies`` (by rule label).

    Returns the reference schedule's label (``None`` without one).
    """
    from ..engine.replay import cross_fitted_calibrations, cross_fitted_replay, replay_schedule, replay_sequential
    from ..engine.sequential import CONDITIONAL
    from .stored_runs import stored_schedule

    calibrations = []  # fitted once for every k

    def replay(config):
        if config.test == CONDITIONAL:
            calibrations[:] = calibrations or cross_fitted_calibrations(cube, spec.calibration_images)
            return cross_fitted_replay(cube, config, spec.calibration_images, calibrations)
        return replay_sequential(cube, config)

    base = stored_schedule(provenance, cube)
    one = replay_schedule(cube, base)
    rules = [("one stage", "schedule", None, one)]
    reference = spec.reference_schedule(base)
    reference_label = None if reference is None else f"reference {schedule_label(reference)}"
    if reference is not None:
        rules.append((reference_label, "schedule", None, replay_schedule(cube, reference)))
    rules += [(c.label(), "sequential", c, replay(c)) for c in spec.configs()]
    for label, kind, config, result in rules:
        t = tallies.setdefault(label, {"kind": kind, "hit": [], "agree": [], "passes": [],
                                       "grid": cube.errors.shape[2], "calibration_passes": 0})
        if config is not None:
            t["k"], t["blocks"] = config.k, len(result.kept)
            if config.test == CONDITIONAL:  # a calibration set of its own, scored at one stage's cost
                images = len(cube.errors) if spec.calibration_images is None else spec.calibration_images
                t["calibration_passes"] = min(images, len(cube.errors)) * int(one.passes[0])
        t["hit"].append(result.predictions == cube.labels)
        t["agree"].append(result.predictions == one.predictions)
        t["passes"].append(result.passes)
    return reference_label


def sequential_caption(frame: pd.DataFrame, spec: SequentialStudySpec) -> str:
    """The sequential study's caption: its settings, the goal, and the goal's verdict per run."""
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
            calibrated = (f"; {best['passes_per_image_with_calibration']:.0f} with the calibration set amortised "
                          "over this run's images" if best["calibration_passes"] else "")
            verdicts.append(f"{run}: met by k={best['k']:g} ({best['accuracy']:.2f}%, "
                            f"{best['agreement_with_one_stage']:.1f}% agreement, {best['passes_per_image']:.0f} "
                            f"passes = {best['one_stage_fraction']:.2f} of one stage's{ref}{calibrated})")
    from ..engine.sequential import CONDITIONAL

    test = "" if spec.test == "mean" else f", {spec.test} test"
    calibration = ""
    if spec.test == CONDITIONAL:
        images = "the whole other half" if spec.calibration_images is None else f"{spec.calibration_images} images"
        calibration = (f"Each half of a run's images is tested with a calibration fitted on {images} of the other "
                       "half (no labels read); a direct run scores its calibration set once at one stage's cost "
                       "(calibration_passes). ")
    return (f"Sequential elimination (block {spec.block}, min_points {spec.min_points}{test}) replayed over k on "
            "stored one-stage errors, beside one stage and the reference adaptive schedule. " + calibration +
            "Goal (passes per image): accuracy within one stage's 99.5% interval, >= 99% agreement with its "
            "predictions, <= 1/5 of its passes and <= 1/2 of the reference's. " + "; ".join(verdicts) + ".")
