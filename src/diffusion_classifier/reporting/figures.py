"""Matplotlib without a display, and PNGs written atomically with reproducible bytes."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import atomic_path

__all__ = ["pyplot", "save_figure", "plain_log_axis"]


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


def plain_log_axis(ax, axis: str = "x") -> None:
    """A log axis whose ticks read as plain numbers (30, 100, 250), not ``3 x 10^1``."""
    import math

    def minor(value: float, _) -> str:  # label 2, 3 and 5 x a power of ten only: no crowding
        leading = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
        return f"{value:g}" if leading in (2, 3, 5) else ""

    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_formatter(pyplot().FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(pyplot().FuncFormatter(minor))
