"""Small CSVs in the real formats of the files `dvc plots` reads (the figures' data).

Columns as the writers write them: ``timestep_figures.error_curves`` (Figures 3 and 4),
``schedule_study.schedule_study`` (the study table) and ``robustness.figure6_data``
(Figure 6). Each has the several series its matplotlib figure draws apart, so that a test
can check that a plot splits them too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Plot input (relative to the repository) -> the series its matplotlib figure draws apart
#: (a legend entry or a panel each), as a reader sees them named.
SERIES = {
    "results/figures/fig3_single_timestep.csv": ["even grid", "repeats"],
    "results/figures/fig4_timestep_strategies.csv": ["even", "0", "500", "0,500,999"],
    "results/tables/schedule_study.csv": ["1 stage", "2 stages", "sequential elimination (over k)"],
    "results/figures/fig6_effective_robustness.csv": ["corrupted", "adversarial", "diffusion", "discriminative"],
}


def _fig3(accuracy: float) -> pd.DataFrame:
    rows = [{"source": "even grid", "timestep": t, "noise_draws": 1, "images": 60,
             "accuracy": accuracy - abs(t - 400) / 20, "accuracy_min": accuracy - abs(t - 400) / 20,
             "accuracy_max": accuracy - abs(t - 400) / 20} for t in range(20, 1000, 40)]
    rows += [{"source": "repeats", "timestep": t, "noise_draws": 8, "images": 60, "accuracy": accuracy - 10 - t / 100,
              "accuracy_min": accuracy - 15 - t / 100, "accuracy_max": accuracy - 5 - t / 100} for t in (0, 475, 500, 525, 999)]
    return pd.DataFrame(rows)


def _fig4(accuracy: float) -> pd.DataFrame:
    rows = []
    for i, strategy in enumerate(SERIES["results/figures/fig4_timestep_strategies.csv"]):
        for n in (1, 2, 4, 8, 16, 25):
            acc = accuracy - 30 / n - 5 * i
            rows.append({"strategy": strategy, "trials": n, "images": 60, "correct": round(0.6 * acc),
                         "accuracy": acc, "ci_low": acc - 8, "ci_high": acc + 6})
    return pd.DataFrame(rows)


def _schedule_study(accuracy: float) -> pd.DataFrame:
    rows = [{"schedule": "keep 1, trials 25", "strategy": "schedule", "stages": 1, "evaluations": "25", "keep": "1",
             "loss": "l2", "passes_per_image": 250.0, "accuracy": accuracy}]
    for n in (2, 5, 10):
        for k in (2, 3):
            rows.append({"schedule": f"keep {k}/1, trials {n}/25", "strategy": "schedule", "stages": 2,
                         "evaluations": f"{n}/25", "keep": f"{k}/1", "loss": "l2",
                         "passes_per_image": 10.0 * n + k * (25 - n), "accuracy": accuracy - 10 / n - 1 / k})
    rows += [{"schedule": f"sequential k={k}", "strategy": "sequential", "stages": 4, "evaluations": "25", "keep": "",
              "loss": "l2", "passes_per_image": 40.0 * k, "accuracy": accuracy - 4 / k} for k in (0.5, 1, 2)]
    frame = pd.DataFrame(rows)
    frame["images"], frame["correct"] = 90, (0.9 * frame["accuracy"]).round()
    frame["ci_low"], frame["ci_high"] = frame["accuracy"] - 9, frame["accuracy"] + 6
    frame["reaches_one_stage"] = frame["accuracy"] >= accuracy
    return frame


def _fig6(accuracy: float) -> pd.DataFrame:
    rows = []
    for p, panel in enumerate(SERIES["results/figures/fig6_effective_robustness.csv"][:2]):
        for m in range(5):
            x = -0.5 + m * 0.6
            y = x - 1.5 - p + 0.1 * m
            rows.append({"panel": panel, "kind": "point", "series": f"cnn_{m}", "family": "discriminative",
                         "in_fit": True, "x_logit": x, "y_logit": y, "x_logit_ci_low": x - 0.2,
                         "x_logit_ci_high": x + 0.2, "y_logit_ci_low": y - 0.3, "y_logit_ci_high": y + 0.3})
        x = float(np.log(accuracy / (100 - accuracy)))
        rows.append({"panel": panel, "kind": "point", "series": "Diffusion Classifier", "family": "diffusion",
                     "in_fit": False, "x_logit": x, "y_logit": x - 0.8 - p})
        rows += [{"panel": panel, "kind": "line", "series": "trend", "family": "fit", "in_fit": True,
                  "x_logit": x, "y_logit": x - 1.6 - p} for x in np.linspace(-0.8, 2.8, 12)]
    frame = pd.DataFrame(rows)
    frame["x_accuracy"] = 1 / (1 + np.exp(-frame["x_logit"]))
    frame["y_accuracy"] = 1 / (1 + np.exp(-frame["y_logit"]))
    return frame


WRITERS = {
    "results/figures/fig3_single_timestep.csv": _fig3,
    "results/figures/fig4_timestep_strategies.csv": _fig4,
    "results/tables/schedule_study.csv": _schedule_study,
    "results/figures/fig6_effective_robustness.csv": _fig6,
}


def write_plot_inputs(repo: Path, accuracy: float = 90.0) -> list[Path]:
    """Write every plot input under ``repo``; ``accuracy`` shifts the numbers (two revisions)."""
    written = []
    for path, writer in WRITERS.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        writer(accuracy).to_csv(repo / path, index=False)
        written.append(repo / path)
    return written
