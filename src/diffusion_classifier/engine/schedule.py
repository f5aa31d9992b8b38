"""Timestep grids and evaluation stages (paper Sec. 4, Algorithms 1 and 2).

The classifier never samples timesteps at random: it evaluates a deterministic,
evenly spaced grid, shared by every class and every image. The adaptive variant
(Algorithm 2) splits the evaluation into stages; stage ``s`` asks for
``evaluations[s]`` points of the grid (an evenly strided sub-grid), evaluates the
ones no earlier stage has done, and then keeps the ``keep[s]`` classes with the
lowest mean error over everything evaluated so far. Algorithm 1 is the one-stage
case ``keep=(1,)``.

The sub-grid arithmetic follows the authors' release exactly, including its quirk
that a stage's strided sub-grid need not contain the earlier stages' points (for
ImageNet, stages 1 and 2 are disjoint), so that pass counts match the paper's.

A schedule may instead name its grid explicitly (``timesteps``), with repeats: grid
point ``j`` still owns noise ``j``, so a timestep listed k times is evaluated with k
different noises. The timestep-strategy study of the paper's Figure 4 ("500" tried
with many eps, "475,500,525", ...) needs exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Schedule", "Stage", "timestep_grid", "strided_subgrid"]


def timestep_grid(num_train_timesteps: int, num_points: int) -> list[int]:
    """The evenly spaced grid ``range(T // m // 2, T, T // m)[:m]``.

    Args:
        num_train_timesteps: ``T``, the length of the model's training schedule.
        num_points: ``m``, the largest number of evaluations any stage asks for.
    """
    if not 1 <= num_points <= num_train_timesteps:
        raise ValueError(
            f"cannot place {num_points} evaluations on a schedule of "
            f"{num_train_timesteps} timesteps: choose 1 <= evaluations <= {num_train_timesteps}"
        )
    stride = num_train_timesteps // num_points
    return list(range(stride // 2, num_train_timesteps, stride))[:num_points]


def strided_subgrid(grid_size: int, num_points: int) -> list[int]:
    """Indices of ``num_points`` evenly strided points of a grid of ``grid_size``."""
    stride = grid_size // num_points
    return list(range(stride // 2, grid_size, stride))[:num_points]


@dataclass(frozen=True)
class Stage:
    """One stage of an adaptive evaluation.

    Attributes:
        index: Position of the stage, from 0.
        grid_indices: Indices into the shared grid evaluated for the first time in
            this stage (also the noise indices: noise ``j`` belongs to grid point ``j``).
        timesteps: The timesteps at those grid indices.
        keep: Number of classes that survive the stage.
    """

    index: int
    grid_indices: tuple[int, ...]
    timesteps: tuple[int, ...]
    keep: int


@dataclass(frozen=True)
class Schedule:
    """Which (timestep, noise) pairs are evaluated for which classes.

    Attributes:
        evaluations: TrialList of Algorithm 2: the number of grid points a stage asks
            for, cumulative in the paper's sense (Pets: ``(25, 250)``).
        keep: KeepList of Algorithm 2: classes kept after each stage; the last is 1.
        num_train_timesteps: Length ``T`` of the model's training noise schedule.
        timesteps: An explicit grid (repeats allowed, one noise per entry) replacing the
            evenly spaced one; its length must equal ``max(evaluations)``.
    """

    evaluations: tuple[int, ...]
    keep: tuple[int, ...] = (1,)
    num_train_timesteps: int = 1000
    timesteps: tuple[int, ...] = ()
    stages: tuple[Stage, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        evaluations, keep = tuple(self.evaluations), tuple(self.keep)
        object.__setattr__(self, "evaluations", evaluations)
        object.__setattr__(self, "keep", keep)
        object.__setattr__(self, "timesteps", tuple(int(t) for t in self.timesteps))
        if not evaluations or len(evaluations) != len(keep):
            raise ValueError(
                f"evaluations {evaluations} and keep {keep} must be non-empty lists of "
                "the same length (one entry per stage)"
            )
        if keep[-1] != 1:
            raise ValueError(f"the last stage must keep exactly 1 class, got keep={keep}")
        if any(b > a for a, b in zip(keep, keep[1:])):
            raise ValueError(f"keep must not increase from stage to stage, got {keep}")
        bad = [v for v in (*evaluations, *keep) if isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            raise ValueError(f"evaluations {evaluations} and keep {keep} must be whole numbers, got {bad}")
        if self.num_train_timesteps < 1:
            raise ValueError(f"num_train_timesteps must be at least 1, got {self.num_train_timesteps}")
        for index, n in enumerate(evaluations):
            if n < 1:
                raise ValueError(f"stage {index} asks for {n} evaluations; need at least 1")
        grid = self.grid
        done: set[int] = set()
        stages = []
        for index, (n, k) in enumerate(zip(evaluations, keep)):
            new = [j for j in strided_subgrid(len(grid), n) if j not in done]
            if not new:
                # The engine would run an empty stage (and the authors' loop ranks on
                # nothing new): refuse it here, before any job starts.
                raise ValueError(
                    f"stage {index} (evaluations[{index}] = {n}) adds no grid point that the earlier stages "
                    f"{list(evaluations[:index])} have not evaluated: every stage must reach new timesteps, "
                    "so give each stage more evaluations than the one before (e.g. evaluations: [25, 250])"
                )
            done.update(new)
            stages.append(Stage(index, tuple(new), tuple(grid[j] for j in new), k))
        object.__setattr__(self, "stages", tuple(stages))

    def check_classes(self, num_classes: int) -> None:
        """Refuse a KeepList that keeps more classes than there are (Algorithm 2's top-k).

        A stage asking to keep more classes than exist cannot do what it says (the
        authors' ``topk`` fails on it): the schedule was written for another dataset
        (an ImageNet KeepList on Pets).
        """
        if num_classes < 1:
            raise ValueError("cannot classify among an empty class list")
        too_many = [k for k in self.keep if k > num_classes]
        if too_many:
            raise ValueError(
                f"keep {list(self.keep)} keeps {too_many} of only {num_classes} classes: a stage "
                f"cannot keep more classes than there are (each entry at most {num_classes}), "
                "or use a one-stage schedule (keep: [1])"
            )

    @classmethod
    def one_stage(cls, evaluations: int, num_train_timesteps: int = 1000) -> "Schedule":
        """Algorithm 1: every class gets the same ``evaluations`` grid points."""
        return cls((evaluations,), (1,), num_train_timesteps)

    @property
    def grid(self) -> list[int]:
        """The shared timestep grid; noise index ``j`` belongs to ``grid[j]``."""
        if not self.timesteps:
            return timestep_grid(self.num_train_timesteps, max(self.evaluations))
        bad = [t for t in self.timesteps if not 0 <= t < self.num_train_timesteps]
        if bad:
            raise ValueError(f"timesteps {bad} are outside 0..{self.num_train_timesteps - 1}")
        if len(self.timesteps) != max(self.evaluations):
            raise ValueError(
                f"an explicit grid of {len(self.timesteps)} timesteps needs the last "
                f"evaluations entry to be {len(self.timesteps)}, got {max(self.evaluations)}"
            )
        return list(self.timesteps)

    @property
    def num_noise(self) -> int:
        """How many noise tensors an image needs: one per grid point."""
        return max(self.evaluations)

    def survivors(self, num_classes: int) -> list[int]:
        """Number of classes evaluated in each stage."""
        alive = [num_classes]
        for stage in self.stages[:-1]:
            alive.append(min(alive[-1], stage.keep))
        return alive

    def passes(self, num_classes: int) -> int:
        """Noise-predictor passes needed to classify one image among ``num_classes``."""
        if num_classes < 1:
            raise ValueError("cannot classify among an empty class list")
        return sum(
            n_alive * len(stage.grid_indices)
            for n_alive, stage in zip(self.survivors(num_classes), self.stages)
        )

    def to_dict(self) -> dict:
        """Plain-data form recorded in artifacts."""
        out = {
            "evaluations": list(self.evaluations),
            "keep": list(self.keep),
            "num_train_timesteps": self.num_train_timesteps,
        }
        if self.timesteps:
            out["timesteps"] = list(self.timesteps)
        return out
