"""Figures 3 and 4 of the paper (Sec. 4.1) from stored per-pair errors.

Figure 3: accuracy when each class is scored at one timestep only, across t.
Figure 4: accuracy against the number of trials (evaluated (t, eps) pairs per
class) for several timestep strategies: "Even N" spends N trials on N evenly spaced
timesteps over the whole grid; "Middle N" on the N grid points around its middle (the
paper's sliding window t - N/2 .. t + N/2 at t = 500); a fixed set such as "0", "500", "0,500,999" or "475,500,525" spends them
on its own timesteps with ever more noise draws (trials split evenly across the set).

Two stored one-stage runs feed them:

* a run on the evenly spaced grid (one noise per timestep): every single grid point
  for Figure 3, the evenly spaced sub-grids of N points for "Even N" and the windows
  of N neighbouring points for "Middle N" (on pets_even's 100-point grid its points
  are 10 timesteps apart, where the paper's window is of consecutive timesteps);
* a run on an explicit grid that repeats a few timesteps with several noises
  (:class:`..engine.Schedule` ``timesteps``): the fixed-set strategies, and extra
  Figure 3 points averaged over their noise draws.

The engine ties noise ``j`` to grid point ``j``, so the repeats are genuinely
different noises at the same t, as the paper's "repeatedly trying t = 500 with many
random eps"; nothing is approximated by neighbouring timesteps.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..engine.replay import ErrorCube, subset_predictions
from .figures import pyplot, save_figure
from .stored_runs import accuracy_fields, iter_cubes

__all__ = ["single_timestep_correct", "set_strategy_subsets", "even_subsets", "window_subsets", "strategy_correct",
           "error_curves", "plot_single_timestep", "plot_strategy_curves", "EVEN_GRID", "REPEATS", "EVEN_N",
           "MIDDLE_N"]

#: Figure 3's ``source`` of each run, and Figure 4's name of the "Even N" strategy.
EVEN_GRID, REPEATS = "even grid", "repeated timesteps"
EVEN_N = "Even N (N timesteps, 1 noise each)"
MIDDLE_N = "Middle N (N grid points around t = 500, 1 noise each)"


def single_timestep_correct(cube: ErrorCube) -> np.ndarray:
    """``[images, grid points]``: whether the single pair at each grid point is right."""
    return cube.label_of(cube.errors.argmin(axis=1)) == cube.labels[:, None]


def even_subsets(num_points: int) -> dict[int, list[int]]:
    """"Even N" on a grid of ``num_points``: N evenly spaced grid indices, N = 1..num_points.

    Point ``k`` is ``floor((k + 1/2) * num_points / N)``: the centre of the k-th of N equal
    parts of the grid, so every N spans the whole grid (gaps differ by at most one point).
    Where N divides the grid this is the engine's strided sub-grid; the engine's own
    stride ``num_points // N`` (:func:`..engine.schedule.strided_subgrid`, the authors'
    stage quirk) would stop short for the other N (N = 60 of 100 reaches only index 59).
    """
    return {n: [(2 * k + 1) * num_points // (2 * n) for k in range(n)] for n in range(1, num_points + 1)}


def window_subsets(num_points: int) -> dict[int, list[int]]:
    """"Middle N": the N neighbouring grid indices centred on the grid's middle, N = 1..num_points."""
    return {n: list(range((num_points - n) // 2, (num_points - n) // 2 + n)) for n in range(1, num_points + 1)}


def set_strategy_subsets(timesteps: np.ndarray, chosen: list[int]) -> dict[int, list[int]]:
    """Trials -> grid indices for a fixed set of timesteps tried with more and more noises.

    With k noises per timestep available, ``trials = r * len(chosen)`` uses the first
    ``r`` noise draws of every chosen timestep, r = 1..k.

    Raises:
        ValueError: a chosen timestep is not on the stored grid.
    """
    positions = {t: np.flatnonzero(timesteps == t) for t in chosen}
    missing = [t for t, idx in positions.items() if idx.size == 0]
    if missing:
        raise ValueError(f"timesteps {missing} were not scored by the repeats run (its grid has "
                         f"{sorted(set(timesteps.tolist()))}): add them to its strategy's timesteps")
    depth = min(idx.size for idx in positions.values())
    return {r * len(chosen): sorted(int(i) for t in chosen for i in positions[t][:r]) for r in range(1, depth + 1)}


def strategy_correct(cube: ErrorCube, subsets: dict[int, list[int]]) -> dict[int, np.ndarray]:
    """Per trials count, whether each image is classified right using only those pairs."""
    return {n: cube.label_of(subset_predictions(cube, idx)) == cube.labels for n, idx in subsets.items()}


def error_curves(even_shards: Iterable[str | Path], repeats_shards: Iterable[str | Path], loss: str,
                 sets: dict[str, list[int]]) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The data of Figures 3 and 4 from the two stored one-stage runs, shard by shard.

    Args:
        even_shards: Shards of the run on the evenly spaced grid.
        repeats_shards: Shards of the run on an explicit grid of repeated timesteps.
        loss: The objective that ranks classes.
        sets: Fixed-set strategies of Figure 4, name -> timesteps (each on the repeats grid).

    Returns:
        Figure 3's frame (accuracy per source and timestep, min / max over noise draws),
        Figure 4's frame (accuracy per strategy and trials, and the timesteps of each point,
        ``;``-separated, a timestep repeated once per noise draw) and chance accuracy.
    """
    single: dict[tuple[str, int, int], list[np.ndarray]] = defaultdict(list)
    curves: dict[str, dict[int, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    points: dict[tuple[str, int], str] = {}
    chance = None
    for source, shards in ((EVEN_GRID, even_shards), (REPEATS, repeats_shards)):
        for cubes, _ in iter_cubes(shards, [loss]):
            cube = cubes[loss]
            chance = 1.0 / cube.num_classes
            correct = single_timestep_correct(cube)
            for j, t in enumerate(cube.timesteps):
                single[(source, int(t), j)].append(correct[:, j])
            if source == EVEN_GRID:
                size = cube.errors.shape[2]
                subsets = {EVEN_N: even_subsets(size), MIDDLE_N: window_subsets(size)}
            else:
                subsets = {name: set_strategy_subsets(cube.timesteps, list(ts)) for name, ts in sets.items()}
            for name, by_trials in subsets.items():
                for n, hit in strategy_correct(cube, by_trials).items():
                    curves[name][n].append(hit)
                    points[(name, n)] = ";".join(str(int(t)) for t in cube.timesteps[by_trials[n]])
    if chance is None:
        raise ValueError("no scored images in the even-grid or repeats runs")

    draws = pd.DataFrame([{"source": s, "timestep": t, "grid_index": j,
                           "accuracy": 100.0 * np.concatenate(parts).mean(), "images": len(np.concatenate(parts))}
                          for (s, t, j), parts in single.items()])
    fig3 = (draws.groupby(["source", "timestep"], sort=True)
            .agg(noise_draws=("grid_index", "size"), images=("images", "first"), accuracy=("accuracy", "mean"),
                 accuracy_min=("accuracy", "min"), accuracy_max=("accuracy", "max"))
            .reset_index())
    fig4 = pd.DataFrame([{"strategy": name, "trials": n, **accuracy_fields(np.concatenate(parts)),
                          "timesteps": points[(name, n)]}
                         for name, by_trials in curves.items() for n, parts in sorted(by_trials.items())])
    return fig3, fig4, chance


def plot_single_timestep(frame: pd.DataFrame, chance: float, target: str | Path, title: str) -> None:
    """Figure 3: accuracy (%) against t, one marker per run, a band over noise draws."""
    fig, ax = pyplot().subplots(figsize=(5.5, 3.4))
    for source, part in frame.groupby("source", sort=True):
        part = part.sort_values("timestep")
        marker = "o-" if part["noise_draws"].max() == 1 else "s"
        ax.plot(part["timestep"], part["accuracy"], marker, ms=4, lw=1, label=source)
        if part["noise_draws"].max() > 1:
            ax.vlines(part["timestep"], part["accuracy_min"], part["accuracy_max"], lw=1, alpha=0.6)
    ax.axhline(100 * chance, ls=":", c="grey", lw=1, label="chance")
    ax.set(xlabel="timestep t (larger = more noise)", ylabel="accuracy (%)", title=title, ylim=(0, 100))
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    save_figure(fig, target)


def plot_strategy_curves(frame: pd.DataFrame, target: str | Path, title: str) -> None:
    """Figure 4: accuracy (%) against trials per class, one line per strategy."""
    fig, ax = pyplot().subplots(figsize=(7.5, 3.4))
    for name, part in frame.groupby("strategy", sort=False):
        part = part.sort_values("trials")
        ax.plot(part["trials"], part["accuracy"], "o-", ms=3, lw=1.2, label=name)
    ax.set_xscale("log")
    ax.set(xlabel="trials per class (evaluated (t, eps) pairs)", ylabel="accuracy (%)", title=title)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="timesteps used", title_fontsize=7)
    fig.tight_layout()
    save_figure(fig, target)
