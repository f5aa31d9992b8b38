"""Reading stored one-stage runs back as error cubes, one shard at a time.

Every analysis of :mod:`..stages.supervised` (Figures 3 and 4, Table 5, the
passes-vs-accuracy study) works from the per-pair errors a scoring run stored; none
rescores. Going shard by shard bounds memory at paper scale (a DiT shard of 100
ImageNet images is 100 x 1000 x 250 float32 = 100 MB per objective).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..artifacts import Shard, read_shard
from ..engine.replay import ErrorCube, error_cube
from ..engine.schedule import Schedule
from ..robustness import clopper_pearson

__all__ = ["iter_cubes", "accuracy_fields", "stored_schedule"]


def iter_cubes(shard_dirs: Iterable[str | Path], objectives: list[str]) -> Iterator[tuple[dict[str, ErrorCube], Shard]]:
    """Yield ``({objective: cube}, shard)`` for each finished, non-empty shard."""
    for path in shard_dirs:
        shard = read_shard(path, error_columns=sorted(set(objectives)))
        if shard.images.empty:
            continue
        num_classes = int(shard.provenance["num_classes"])
        labels_of = shard.provenance.get("candidate_labels")
        cubes = {name: error_cube(shard.errors, shard.images, name, num_classes,
                                 candidate_labels=labels_of) for name in objectives}
        yield cubes, Shard(shard.errors.iloc[:0], shard.images, shard.provenance)


def accuracy_fields(correct: np.ndarray) -> dict[str, float]:
    """Accuracy (%) of a boolean vector with its 99.5% Clopper-Pearson interval."""
    n, k = int(correct.size), int(np.sum(correct))
    if n == 0:
        raise ValueError("cannot compute an accuracy over zero images")
    low, high = clopper_pearson(k, n)
    return {"images": n, "correct": k, "accuracy": 100.0 * k / n,
            "ci_low": 100.0 * float(low), "ci_high": 100.0 * float(high)}


def stored_schedule(provenance: dict, cube: ErrorCube) -> Schedule:
    """The one-stage schedule a shard was scored with, pinned to its stored grid."""
    settings = provenance["settings"]["scoring_config"]["schedule"]
    if len(settings["evaluations"]) != 1:
        raise ValueError(f"run {provenance.get('strategy', '?')!r} is adaptive ({settings}); these analyses "
                         "need a one-stage run that scores every class at every grid point")
    return Schedule((cube.errors.shape[2],), (1,), int(settings["num_train_timesteps"]),
                    tuple(int(t) for t in cube.timesteps))
