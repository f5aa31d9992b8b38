"""Frames of scored runs, one row per run (or per run and subset), from their summaries.

The classification, zero-shot and compositional tables read the summaries that
``aggregate_scores`` / ``aggregate_pairs`` write (the exact tables; a rerun
regenerates them byte for byte); the runtime table adds the seconds the shards'
timing files measured, which vary from run to run and are not versioned. A shard
pulled from a DVC remote comes without its timing: its run's times are left empty,
with a warning, rather than failing a tables-only regeneration.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import pandas as pd

__all__ = ["summary_row", "classification_frame", "runtime_row", "runtime_frame", "zeroshot_frame",
           "compositional_frame", "RUN_KEY"]

log = logging.getLogger(__name__)

#: The columns that name a run, and the order of every table's rows.
RUN_KEY = ["dataset", "model", "strategy"]


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


def _by_run(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).sort_values(RUN_KEY, kind="stable").reset_index(drop=True)


def classification_frame(summaries: Sequence[dict]) -> pd.DataFrame:
    """One row per dataset x model x strategy: schedule and accuracies."""
    return _by_run([summary_row(s) for s in summaries])


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


def runtime_frame(summaries: Sequence[dict]) -> pd.DataFrame:
    """One row per dataset x model x strategy: measured seconds and passes per second."""
    return _by_run([runtime_row(s) for s in summaries])


def zeroshot_frame(summaries: Sequence[dict], prompt_tables: Sequence[dict]) -> pd.DataFrame:
    """One row per zero-shot run: its prompt template beside its accuracy.

    Args:
        summaries: The runs' summaries.
        prompt_tables: The provenance of each run's prompt table (its ``templates``), in the same order.
    """
    if len(summaries) != len(prompt_tables):
        raise ValueError(f"{len(summaries)} summaries but {len(prompt_tables)} prompt tables: give one each")
    rows = []
    for summary, table in zip(summaries, prompt_tables):
        # The template goes right after the run's key, before the schedule and accuracies.
        row = summary_row(summary)
        key = {name: row.pop(name) for name in RUN_KEY}
        rows.append({**key, "template": " | ".join(table["templates"]), **row})
    return _by_run(rows)


def compositional_frame(summaries: Sequence[dict]) -> pd.DataFrame:
    """One row per compositional run and subset (all, per tag): text, image, group scores."""
    rows = []
    for s in summaries:
        for subset in s["subsets"]:
            rows.append({
                "dataset": s["dataset"], "model": s["model"], "strategy": s["strategy"], "subset": subset["subset"],
                "examples": subset["examples"],
                **{f"{name}{suffix}": 100 * subset[f"{name}{suffix}"]
                   for name in ("text", "image", "group") for suffix in ("", "_ci_low", "_ci_high")},
                "loss": s["loss"],
                "passes_per_image": s["passes_per_image"],
            })
    return pd.DataFrame(rows)
