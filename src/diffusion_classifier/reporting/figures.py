"""Matplotlib without a display, and PNGs written atomically with reproducible bytes."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import atomic_path

__all__ = ["pyplot", "save_figure"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (jobs run without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, target: str | Path, dpi: int = 150) -> None:
    """Write ``fig`` as a PNG through a temporary file, then close it.

    No ``Software`` metadata, so the same figure gives the same bytes (DVC hashes them).
    """
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    pyplot().close(fig)
