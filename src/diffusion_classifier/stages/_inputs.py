"""The JSON inputs a rule passes as files (summaries, provenance), read for the library."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["read_jsons"]


def read_jsons(paths: list[str | Path]) -> list[dict]:
    """The JSON object of each file, in order."""
    return [json.loads(Path(p).read_text()) for p in paths]
