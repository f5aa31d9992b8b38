"""Figure 2 of the paper: why every class is scored with the same (t, eps) pairs.

The eps-prediction error of one image, at every t, for a few fixed noises eps_i and
two conditions. Across noises the error itself varies wildly; the *difference*
between the conditions varies much less, because the noise-dependent part of the
error is shared by both conditions and cancels (paper Sec. 3.3, Fig. 2). The frame
here has one row per (noise, timestep, condition); the statistics put numbers on the
figure: the spread across noises of the error and of the difference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .figures import pyplot, save_figure

__all__ = ["normalize_errors", "pairing_statistics", "plot_noise_pairing"]

COLUMNS = ("noise", "timestep", "condition", "error")


def _check(frame: pd.DataFrame) -> list[str]:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"the error frame lacks columns {missing}; expected {list(COLUMNS)}")
    conditions = list(dict.fromkeys(frame["condition"]))
    if len(conditions) != 2:
        raise ValueError(f"Figure 2 compares exactly two conditions, got {conditions}")
    return conditions


def normalize_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``normalized``: the error minus its mean over noises and conditions at each t.

    The paper's normalisation ("zero-mean at each timestep across the 4 plots"), which
    removes the error's strong dependence on t and leaves what differs between noises
    and conditions.
    """
    _check(frame)
    out = frame.copy()
    out["normalized"] = out["error"] - out.groupby("timestep")["error"].transform("mean")
    return out


def pairing_statistics(frame: pd.DataFrame) -> dict:
    """How much sharing the noise between conditions reduces the spread of the comparison.

    Per timestep, the standard deviation across noises of (a) each condition's error and
    (b) the difference ``error[first] - error[second]``; each averaged over timesteps.
    ``reduction`` = (a, averaged over both conditions) / (b). ``first_wins`` is the
    fraction of (noise, timestep) pairs where the first condition has the lower error.
    """
    first, second = _check(frame)
    wide = frame.pivot_table(index=["timestep", "noise"], columns="condition", values="error")
    if wide.isna().any().any():
        raise ValueError("every (noise, timestep) needs an error for both conditions")
    difference = wide[first] - wide[second]
    spread = {c: float(wide[c].groupby(level="timestep").std(ddof=1).mean()) for c in (first, second)}
    difference_spread = float(difference.groupby(level="timestep").std(ddof=1).mean())
    error_spread = float(np.mean(list(spread.values())))
    return {
        "conditions": [first, second],
        "noises": int(frame["noise"].nunique()),
        "timesteps": int(frame["timestep"].nunique()),
        "error_std_across_noises": spread,
        "difference_std_across_noises": difference_spread,
        "reduction": error_spread / difference_spread if difference_spread > 0 else float("inf"),
        "first_wins": float((difference < 0).mean()),
    }


def plot_noise_pairing(frame: pd.DataFrame, target: str | Path, title: str) -> None:
    """One panel per noise: the normalized error of both conditions across t."""
    conditions = _check(frame)
    if "normalized" not in frame.columns:
        frame = normalize_errors(frame)
    noises = sorted(frame["noise"].unique())
    plt = pyplot()
    fig, axes = plt.subplots(1, len(noises), figsize=(2.6 * len(noises), 2.6), sharey=True, squeeze=False)
    # The first condition is the image's own class (the stage orders them so).
    labels = {conditions[0]: f"class {conditions[0]} (true class)", conditions[1]: f"class {conditions[1]}"}
    for ax, noise in zip(axes[0], noises):
        part = frame[frame["noise"] == noise]
        for condition in conditions:
            line = part[part["condition"] == condition].sort_values("timestep")
            ax.plot(line["timestep"], line["normalized"], lw=0.8, label=labels[condition])
        ax.axhline(0.0, c="grey", lw=0.5, ls=":")
        ax.set(title=f"fixed noise $\\epsilon_{{{int(noise) + 1}}}$", xlabel="timestep t")
    axes[0][0].set_ylabel("normalized error (lower is better)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=7, frameon=False)
    save_figure(fig, target)
