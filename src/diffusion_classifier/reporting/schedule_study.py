"""Passes against accuracy for adaptive schedules, replayed from one stored one-stage run.

Beyond the paper: Algorithm 2's KeepList / TrialList were "not significantly tuned"
(Sec. 4.2). Because noise ``j`` belongs to grid point ``j``, every schedule whose
grid is the stored one replays exactly (:func:`..engine.replay.replay_schedule`), so
the trade-off can be measured for many schedules at the cost of one scoring run.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pandas as pd

from ..engine.schedule import Schedule
from .figures import pyplot, save_figure

__all__ = ["candidate_schedules", "schedule_label", "plot_passes_vs_accuracy"]


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
    for stages, part in frame.groupby("stages"):
        ax.scatter(part["passes_per_image"], part["accuracy"], s=14, label=f"{stages} stage(s)")
    front = frame.sort_values(["passes_per_image", "accuracy"], ascending=[True, False])
    front = front[front["accuracy"] >= front["accuracy"].cummax()]
    ax.plot(front["passes_per_image"], front["accuracy"], "-", c="grey", lw=1, label="best so far")
    one = frame[frame["stages"] == 1]
    ax.axhline(float(one["accuracy"].iloc[0]), ls=":", c="k", lw=1, label="one-stage accuracy")
    ax.set_xscale("log")
    ax.set(xlabel="noise-predictor passes per image", ylabel="accuracy (%)", title=title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, target)
