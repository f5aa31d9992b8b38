"""Stages ``make_tables`` and ``make_runtime_table``: accuracies and measured times of the scored runs.

The frames are built in :mod:`diffusion_classifier.reporting.run_tables`. The
classification table is exact (DVC versions it); the runtime table is measured time,
written under ``results/timing``, which DVC does not version.
"""

from __future__ import annotations

from pathlib import Path

from ._inputs import read_jsons
from ._outputs import table_stem
from ._registry import stage

__all__ = ["make_tables", "make_runtime_table"]


@stage("make-tables")
def make_tables(summary_paths: list[str | Path], output_md: str | Path, output_csv: str | Path) -> tuple[Path, Path]:
    """The classification table of every scored run.

    Args:
        summary_paths: Summaries of the scored runs (``aggregate-scores``).
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    from ..reporting import write_table
    from ..reporting.run_tables import classification_frame

    return write_table(classification_frame(read_jsons(summary_paths)), table_stem(output_md, output_csv),
                       "Diffusion Classifier accuracy (%) with 99.5% Clopper-Pearson intervals; "
                       "passes = noise-predictor evaluations per image.")


@stage("make-runtime-table")
def make_runtime_table(summary_paths: list[str | Path], output_md: str | Path,
                       output_csv: str | Path) -> tuple[Path, Path]:
    """The measured scoring time of every scored run (under ``results/timing``: not versioned).

    Args:
        summary_paths: Summaries of the scored runs; their shards' timing files are read.
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    from ..reporting import write_table
    from ..reporting.run_tables import runtime_frame

    return write_table(runtime_frame(read_jsons(summary_paths)), table_stem(output_md, output_csv),
                       "Measured scoring time (varies from run to run; not part of the exact tables).")
