"""Stages ``make_tables`` and ``make_runtime_table``: the catalog's tables built by a ``frame``
function (the classification table, ...), and the measured times of the scored runs.

``make_tables`` serves every table whose catalog entry names a ``frame`` function, so
such a table needs no stage of its own. The classification table is exact (DVC versions
it); the runtime table is measured time, written under ``results/timing``, which DVC
does not version.
"""

from __future__ import annotations

from pathlib import Path

from ._inputs import read_jsons
from ._outputs import table_stem
from ._registry import stage

__all__ = ["make_tables", "make_runtime_table"]


@stage("make-tables")
def make_tables(name: str, inputs: dict[str, list[str]], output_md: str | Path,
                output_csv: str | Path) -> tuple[Path, Path]:
    """A catalog table that has a ``frame`` function (reporting/catalog.yaml), from its inputs.

    Args:
        name: The table's catalog name (``classification``, ...).
        inputs: Input kind -> JSON files, one entry per kind of its catalog ``inputs``.
        output_md: The table in Markdown (rounded, with its ``table_caption``).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    from ..errors import UserError
    from ..reporting import write_table
    from ..reporting.catalog import artifact

    entry = artifact(name)
    if set(inputs) != set(entry.inputs):
        raise UserError(f"--inputs gives {sorted(inputs)}; table {name!r} reads {list(entry.inputs)}")
    frame = entry.build([read_jsons(inputs[kind]) for kind in entry.inputs])
    return write_table(frame, table_stem(output_md, output_csv), entry.table_caption)


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
