"""The JSON inputs a rule passes as files (summaries, provenance), read for the library."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_jsons"]


def read_jsons(paths: list[str | Path]) -> list[dict]:
    """The JSON object of each file, in order; a damaged one is a one-line error naming it."""
    from ..artifacts import read_json

    return [read_json(p, "delete it and rerun the job that writes it", "summary") for p in paths]
