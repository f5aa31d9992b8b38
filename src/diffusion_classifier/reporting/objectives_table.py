"""Table 5 of the paper: which inference objective classifies best with a learned-variance model.

Every objective comes from the same stored scoring pass (the ranking loss plus the
``extra_objectives`` of the strategy), so the columns differ only in how the same
(t, eps) pairs are weighed: ``l2`` (uniform), ``vlb`` (the variational-bound term
with the learned variance) and ``l2_vlb`` (their sum), the last two in nats or, as
``vlb_bits`` / ``l2_vlb_bits``, in the authors' bits (their sum is mse + kl_bits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PAPER_TABLE5", "OBJECTIVE_LABELS", "PAPER_COLUMN", "TABLE5_CAPTION", "paper_value", "objectives_frame"]

TABLE5_CAPTION = ("Table 5: accuracy (%) by classification objective, all from one stored scoring pass per run "
                  "(99.5% Clopper-Pearson interval); paper = the paper's Table 5 value for the named setting.")

OBJECTIVE_LABELS = {"l2": "l2", "vlb": "VLB", "l2_vlb": "l2 + VLB",
                    "vlb_bits": "VLB (bits)", "l2_vlb_bits": "l2 + VLB (bits)"}

# The paper's column of each objective: its VLB and L2+VLB are the authors' bits.
PAPER_COLUMN = {"vlb_bits": "vlb", "l2_vlb_bits": "l2_vlb"}

# Paper Table 5 (DiT-XL/2 on ImageNet and its shifts, top-1 %), keyed by
# (resolution, dataset) then objective.
PAPER_TABLE5: dict[tuple[int, str], dict[str, float]] = {
    (256, "ImageNet"): {"l2": 77.5, "vlb": 71.6, "l2_vlb": 77.5},
    (256, "ImageNetV2"): {"l2": 64.6, "vlb": 57.7, "l2_vlb": 64.6},
    (256, "ImageNet-A"): {"l2": 20.0, "vlb": 17.9, "l2_vlb": 20.0},
    (256, "ObjectNet"): {"l2": 33.9, "vlb": 24.7, "l2_vlb": 33.8},
    (512, "ImageNet"): {"l2": 79.1, "vlb": 74.0, "l2_vlb": 79.0},
    (512, "ImageNetV2"): {"l2": 66.7, "vlb": 59.1, "l2_vlb": 66.6},
    (512, "ImageNet-A"): {"l2": 30.2, "vlb": 24.9, "l2_vlb": 30.2},
    (512, "ObjectNet"): {"l2": 33.9, "vlb": 24.7, "l2_vlb": 33.8},
}


def paper_value(paper: dict | None, objective: str) -> tuple[float | None, str]:
    """The paper's number for a run's ``paper: {resolution, dataset}`` key, and its label."""
    if not paper:
        return None, ""
    key = (int(paper["resolution"]), str(paper["dataset"]))
    if key not in PAPER_TABLE5:
        raise ValueError(f"the paper's Table 5 has no column {key}; choose one of {sorted(PAPER_TABLE5)}")
    return PAPER_TABLE5[key].get(PAPER_COLUMN.get(objective, objective)), f"DiT-XL/2 {key[0]}px, {key[1]}"


def objectives_frame(runs: list[dict], objectives: list[str]) -> pd.DataFrame:
    """One row per run and objective: the accuracy of replaying the run's schedule ranked by it.

    Args:
        runs: ``{dataset, model, strategy, shards, paper}`` per run; ``paper`` is an
            optional ``{resolution, dataset}`` key into the paper's Table 5.
        objectives: Objective columns to compare (stored by the runs). The run's own
            objective must reproduce its stored predictions.
    """
    from collections import defaultdict

    import numpy as np
    import pandas as pd

    from ..engine.replay import replayed_labels
    from .stored_runs import accuracy_fields, iter_cubes, stored_schedule

    rows = []
    for run in runs:
        hits: dict[str, list[np.ndarray]] = defaultdict(list)
        for cubes, shard in iter_cubes(run["shards"], objectives):
            own = shard.provenance["settings"]["scoring_config"]["loss"]
            for objective, cube in cubes.items():
                schedule = stored_schedule(shard.provenance, cube)
                predictions = replayed_labels(cube, schedule, shard.images if objective == own else None)
                hits[objective].append(predictions == cube.labels)
        for objective in objectives:
            paper, setting = paper_value(run.get("paper"), objective)
            rows.append({"dataset": run["dataset"], "model": run["model"], "strategy": run["strategy"],
                         "objective": OBJECTIVE_LABELS.get(objective, objective),
                         **accuracy_fields(np.concatenate(hits[objective])),
                         "paper_accuracy": paper, "paper_setting": setting})
    return pd.DataFrame(rows)
