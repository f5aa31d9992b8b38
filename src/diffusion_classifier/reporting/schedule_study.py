"""Passes against accuracy for adaptive schedules, replayed from one stored one-stage run.

Beyond the paper: Algorithm 2's KeepList / TrialList were "not significantly tuned"
(Sec. 4.2). Because noise ``j`` belongs to grid point ``j``, every schedule whose
grid is the stored one replays exactly (:func:`..engine.replay.replay_schedule`), so
the trade-off can be measured for many schedules at the cost of one scoring run.
The sequential elimination strategy (:mod:`..engine.sequential`) replays the same
way; its curve over ``k`` is measured on every named one-stage run against one stage
and a paper-style adaptive schedule (:func:`sequential_rows`, :func:`plot_sequential`).
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.schedule import Schedule
from .figures import pyplot, save_figure
from .stored_runs import accuracy_fields

__all__ = ["candidate_schedules", "schedule_label", "plot_passes_vs_accuracy",
           "sequential_rows", "plot_sequential", "GOAL"]


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


def plot_passes_vs_accuracy(frame: pd.DataFrame, target: str | Path, title: str) -> None:
    """Accuracy (%) against passes per image, one point per schedule, best front joined."""
    fig, ax = pyplot().subplots(figsize=(5.5, 3.6))
    sequential = frame["strategy"] == "sequential" if "strategy" in frame else pd.Series(False, frame.index)
    schedules = frame[~sequential]
    for stages, part in schedules.groupby("stages"):
        ax.scatter(part["passes_per_image"], part["accuracy"], s=14, label=f"{stages} stage(s)")
    front = schedules.sort_values(["passes_per_image", "accuracy"], ascending=[True, False])
    front = front[front["accuracy"] >= front["accuracy"].cummax()]
    ax.plot(front["passes_per_image"], front["accuracy"], "-", c="grey", lw=1, label="best so far")
    if sequential.any():
        seq = frame[sequential].sort_values("passes_per_image")
        ax.plot(seq["passes_per_image"], seq["accuracy"], "^-", ms=4, c="tab:red", lw=1,
                label="sequential elimination (over k)")
    one = schedules[schedules["stages"] == 1]
    ax.axhline(float(one["accuracy"].iloc[0]), ls=":", c="k", lw=1, label="one-stage accuracy")
    ax.set_xscale("log")
    ax.set(xlabel="noise-predictor passes per image", ylabel="accuracy (%)", title=title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, target)


# --- the sequential elimination strategy (engine.sequential) beside the schedules -----
# Goal of the sequential strategy (beyond the paper): the one-stage answer at a fraction of its cost.
GOAL = {"min_agreement": 99.0, "max_one_stage_fraction": 1 / 5, "max_reference_fraction": 1 / 2}


def sequential_rows(run: str, tallies: dict[str, dict], reference_label: str | None) -> list[dict]:
    """One row per replayed rule of one run, with agreement with one stage and the goal's tests.

    Args:
        run: Name of the run (``dataset / model / strategy``).
        tallies: Rule label -> ``{kind, hit, agree, passes}`` arrays over the run's images;
            ``one stage`` must be among them.
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
        row = {"run": run, "rule": label, "kind": t["kind"], "k": t.get("k"), "passes_per_image": passes,
               **fields, "agreement_with_one_stage": 100.0 * float(np.concatenate(t["agree"]).mean()),
               "one_stage_fraction": passes / one_passes,
               "reference_fraction": passes / ref_passes if ref_passes else None}
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
    fig, axes = pyplot().subplots(len(runs), 2, figsize=(9, 2.8 * len(runs)), squeeze=False)
    for (acc_ax, agree_ax), run in zip(axes, runs):
        part = frame[frame["run"] == run]
        seq = part[part["kind"] == "sequential"].sort_values("passes_per_image")
        fixed = part[part["kind"] != "sequential"]
        for ax, column in ((acc_ax, "accuracy"), (agree_ax, "agreement_with_one_stage")):
            ax.plot(seq["passes_per_image"], seq[column], "o-", ms=3, label="sequential (over k)")
            for k, x, y in zip(seq["k"], seq["passes_per_image"], seq[column]):
                ax.annotate(f"{k:g}", (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
            for _, row in fixed.iterrows():
                ax.scatter(row["passes_per_image"], row[column], marker="s", s=18, label=row["rule"])
            ax.set_xscale("log")
            ax.set(xlabel="noise-predictor passes per image")
        one = fixed[fixed["rule"] == "one stage"].iloc[0]
        acc_ax.axhspan(one["ci_low"], one["ci_high"], color="grey", alpha=0.15, lw=0, label="one stage 99.5% CI")
        agree_ax.axhline(GOAL["min_agreement"], ls=":", c="k", lw=1, label=f"{GOAL['min_agreement']:g}% goal")
        acc_ax.set(ylabel="accuracy (%)", title=run)
        agree_ax.set(ylabel="agreement with one stage (%)", title=run)
        acc_ax.legend(fontsize=6, loc="lower right")
        agree_ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    save_figure(fig, target)
