"""Stage ``make_tables``: the classification and runtime tables from the summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["make_tables", "classification_frames", "summary_row"]


def summary_row(summary: dict) -> dict:
    """The table row of one scored run's summary: its key, schedule and accuracies (in %)."""
    schedule = summary["scoring_config"]["schedule"]
    return {
        "dataset": summary["dataset"],
        "model": summary["model"],
        "strategy": summary["strategy"],
        "evaluations": "/".join(map(str, schedule["evaluations"])),
        "keep": "/".join(map(str, schedule["keep"])),
        "loss": summary["scoring_config"]["loss"],
        "images": summary["num_images"],
        "accuracy": 100 * summary["accuracy"],
        "ci_low": 100 * summary["accuracy_ci_low"],
        "ci_high": 100 * summary["accuracy_ci_high"],
        "mean_per_class": 100 * summary["mean_per_class_accuracy"],
        "passes_per_image": summary["passes_per_image"],
    }


def classification_frames(summary_paths: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per dataset x model x strategy: accuracies, and separately timings."""
    import pandas as pd

    rows, timing = [], []
    for path in summary_paths:
        s = json.loads(Path(path).read_text())
        rows.append(summary_row(s))
        timing.append({"dataset": s["dataset"], "model": s["model"], "strategy": s["strategy"],
                       "passes_per_image": s["passes_per_image"],
                       "seconds_per_image": s["seconds_per_image"],
                       "passes_per_second": s["passes_per_image"] / max(s["seconds_per_image"], 1e-12),
                       "device": s["shards"][0]["device"]})
    order = ["dataset", "model", "strategy"]
    return (pd.DataFrame(rows).sort_values(order, kind="stable").reset_index(drop=True),
            pd.DataFrame(timing).sort_values(order, kind="stable").reset_index(drop=True))


@stage("make-tables")
def make_tables(summary_paths: list[str | Path], output_dir: str | Path) -> list[Path]:
    """Write ``classification.{csv,md}`` and ``runtime.{csv,md}`` into ``output_dir``."""
    from ..reporting import write_table

    output_dir = Path(output_dir)
    accuracy, timing = classification_frames(summary_paths)
    written = [
        *write_table(accuracy, output_dir / "classification",
                     "Diffusion Classifier accuracy (%) with 99.5% Clopper-Pearson intervals; "
                     "passes = noise-predictor evaluations per image."),
        *write_table(timing, output_dir / "runtime",
                     "Measured scoring time (varies from run to run; not part of the exact tables)."),
    ]
    return written
