"""Stage ``make_provenance_table``: what made the numbers of every table, one row per scored run.

Every table and figure of a run is computed from the summaries of its scored runs
(classification and compositional); this table puts each run's provenance beside
its key, so the HTML report (``snakemake --report``) carries it: the weights and
their sha256, the code version and config hash of each shard, the schedule and
loss, the device and dtype. Timings stay in the runtime table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._outputs import table_stem
from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["provenance_frame", "make_provenance_table"]


def _joined(shards: list[dict], field: str) -> str:
    """The distinct values of a shard field, in shard order (one value when the shards agree)."""
    return " ".join(dict.fromkeys(str(s.get(field, "")) for s in shards))


def provenance_frame(summary_paths: list[str | Path]) -> pd.DataFrame:
    """One row per run summary: key, weights, code, config hash, schedule, device."""
    import pandas as pd

    from ..artifacts import read_json

    rows = []
    for path in summary_paths:
        s = read_json(path, "delete it and rerun the job that writes it", "run summary")
        config, shards = s["scoring_config"], s.get("shards", [])
        rows.append({
            "dataset": s["dataset"], "model": s["model"], "strategy": s["strategy"],
            "kind": "compositional" if "subsets" in s else "classification",
            "model_id": s["model_id"], "weights_sha256": s["weights_sha256"],
            "code_version": _joined(shards, "code_version"), "config_hash": _joined(shards, "config_hash"),
            "evaluations": "/".join(map(str, config["schedule"]["evaluations"])),
            "keep": "/".join(map(str, config["schedule"]["keep"])), "loss": config["loss"],
            "shards": len(shards), "device": _joined(shards, "device"),
        })
    if not rows:
        raise ValueError("no run summaries given: the provenance table needs at least one scored run")
    order = ["kind", "dataset", "model", "strategy"]
    return pd.DataFrame(rows).sort_values(order, kind="stable").reset_index(drop=True)


@stage("make-provenance-table")
def make_provenance_table(
    summary_paths: list[str | Path], output_md: str | Path, output_csv: str | Path
) -> tuple[Path, Path]:
    """Write ``output_csv`` and ``output_md``."""
    from ..reporting import write_table

    return write_table(provenance_frame(summary_paths), table_stem(output_md, output_csv),
                       "Provenance of every scored run the tables and figures are computed from: weights and their "
                       "sha256, code version and config hash of its shards, schedule, loss and device.")
