"""Stages ``make_tables`` and ``make_runtime_table``: accuracies and measured times of the scored runs.

The classification table is exact (a rerun regenerates it byte for byte; DVC versions
it). The runtime table is measured time: it is read from the shards' timing files and
written under ``results/timing``, which DVC does not version. Shards pulled from a DVC
remote come without their timing (it was measured elsewhere): their runs' times are
left empty, with a warning, rather than failing the tables-only regeneration.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["make_tables", "make_runtime_table", "classification_frame", "runtime_frame", "summary_row"]

log = logging.getLogger(__name__)

_ORDER = ["dataset", "model", "strategy"]


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


def _summaries(summary_paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(path).read_text()) for path in summary_paths]


def _sorted(rows: list[dict]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows).sort_values(_ORDER, kind="stable").reset_index(drop=True)


def classification_frame(summary_paths: list[str | Path]) -> pd.DataFrame:
    """One row per dataset x model x strategy: schedule and accuracies."""
    return _sorted([summary_row(s) for s in _summaries(summary_paths)])


def runtime_row(summary: dict) -> dict:
    """Measured scoring time of one run: every image's seconds, from its shards' timing files
    (empty when a shard's was not recorded here)."""
    from ..artifacts.timing import TimingError, read_timing

    try:
        seconds = [s for shard in summary["shards"] for s in read_timing(shard["path"])["image_seconds"].values()]
    except TimingError as exc:
        log.warning("%s/%s/%s: time not reported (%s)", summary["dataset"], summary["model"], summary["strategy"], exc)
        seconds = []
    per_image = sum(seconds) / len(seconds) if seconds else math.nan
    return {"dataset": summary["dataset"], "model": summary["model"], "strategy": summary["strategy"],
            "passes_per_image": summary["passes_per_image"],
            "seconds_per_image": per_image,
            "passes_per_second": summary["passes_per_image"] / max(per_image, 1e-12) if seconds else math.nan,
            "device": summary["shards"][0]["device"]}


def runtime_frame(summary_paths: list[str | Path]) -> pd.DataFrame:
    """One row per dataset x model x strategy: measured seconds and passes per second."""
    return _sorted([runtime_row(s) for s in _summaries(summary_paths)])


@stage("make-tables")
def make_tables(summary_paths: list[str | Path], output_dir: str | Path) -> list[Path]:
    """Write ``classification.{csv,md}`` into ``output_dir``."""
    from ..reporting import write_table

    return list(write_table(classification_frame(summary_paths), Path(output_dir) / "classification",
                            "Diffusion Classifier accuracy (%) with 99.5% Clopper-Pearson intervals; "
                            "passes = noise-predictor evaluations per image."))


@stage("make-runtime-table")
def make_runtime_table(summary_paths: list[str | Path], output_dir: str | Path) -> list[Path]:
    """Write ``runtime.{csv,md}`` into ``output_dir`` (under ``results/timing``: not versioned)."""
    from ..reporting import write_table

    return list(write_table(runtime_frame(summary_paths), Path(output_dir) / "runtime",
                            "Measured scoring time (varies from run to run; not part of the exact tables)."))
