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

__all__ = ["OBJECTIVE_LABELS", "PAPER_COLUMN", "TABLE5_CAPTION", "TABLE5_PAPER_COLUMNS", "paper_value", "objectives_frame"]

TABLE5_CAPTION = ("Table 5: accuracy (%) by classification objective, all from one stored scoring pass per run "
                  "(99.5% Clopper-Pearson interval), beside the paper's Table 5 value where a run is the paper's "
                  "setting (DiT-XL/2 on ImageNet or one of its shifts).")

#: The paper's value and setting in the table (empty for a run that is not the paper's setting).
TABLE5_PAPER_COLUMNS = ("paper_accuracy", "paper_setting")

OBJECTIVE_LABELS = {"l2": "l2", "vlb": "VLB", "l2_vlb": "l2 + VLB",
                    "vlb_bits": "VLB (bits)", "l2_vlb_bits": "l2 + VLB (bits)"}

# The paper's column of each objective: its VLB and L2+VLB are the authors' bits.
PAPER_COLUMN = {"vlb_bits": "vlb", "l2_vlb_bits": "l2_vlb"}


def paper_value(paper: dict | None, objective: str) -> tuple[float | None, str]:
    """The paper's number for a run's ``paper: {resolution, dataset}`` key, and its label.

    The paper's Table 5 (catalog entry ``table5``) names its rows by setting,
    ``DiT-XL/2 <resolution>px, <dataset>``.
    """
    from .paper_values import paper_table

    if not paper:
        return None, ""
    setting = f"DiT-XL/2 {int(paper['resolution'])}px, {paper['dataset']}"
    rows = paper_table("table5")
    if setting not in rows:
        raise ValueError(f"the paper's Table 5 has no column {setting!r}; choose one of {sorted(rows)}")
    value = rows[setting].get(PAPER_COLUMN.get(objective, objective))
    return (None if value is None else float(value)), setting


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
