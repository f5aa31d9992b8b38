"""The sequential strategy's cost at the one-stage answer, replayed on stored one-stage errors.

For each stored one-stage run (supervised, zero-shot, corrupted of the embedded default)
and each variant of the elimination test, replays the k curve with the schedule study's
own code (:func:`diffusion_classifier.stages.supervised.sequential_study`) and prints,
per run, the cheapest k whose predictions agree with one stage on >= 99% of the images:
its passes per image as a fraction of one stage's and of the paper-style adaptive
schedule's (keep 2/1, trials 5/25), and whether the issue's goal is met. Read-only on
the results folder.

    python benchmarks/sequential_replay.py [--scores results/scores]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from diffusion_classifier.reporting.schedule_study import GOAL, sequential_study
from diffusion_classifier.specs import SequentialStudySpec

RUNS = {  # the embedded default's stored one-stage runs
    "supervised": "digits/digits_unet/even25",
    "corrupted": "digits_corrupted/digits_unet/grid25",
    "zero-shot": "digits/digits_text/grid25",
}
K = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.25, 3.5, 4]
VARIANTS = {  # name -> SequentialStudySpec fields besides k and the reference
    "mean test, block 1, min 5 (the study's)": dict(block=1, min_points=5),
    "grid test": dict(block=1, min_points=5, test="grid"),
    "grid test, pool 5, min 2": dict(block=1, min_points=2, test="grid", pool=5),
    "grid test, pool 5, min 2, t < 500 first": dict(block=1, min_points=2, test="grid", pool=5, first=[0, 500]),
    "grid test, pool 5, min 2, t < 500 first, block 2": dict(block=2, min_points=2, test="grid", pool=5,
                                                             first=[0, 500]),
    "conditional test, min 1, 20 calibration images": dict(block=1, min_points=1, test="conditional",
                                                           calibration_images=20),
    "conditional test, min 1, 10 calibration images": dict(block=1, min_points=1, test="conditional",
                                                           calibration_images=10),
    "conditional test, min 1, the other half calibrates": dict(block=1, min_points=1, test="conditional",
                                                               calibration_images=None),
    "conditional test, min 1, 20 calibration images, block 5": dict(block=5, min_points=1, test="conditional",
                                                                    calibration_images=20),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", default="results/scores", help="the embedded default's results/scores")
    args = parser.parse_args()
    runs = [{"name": name, "shards": sorted((Path(args.scores) / path).glob("shard-*"))}
            for name, path in RUNS.items()]
    rows = []
    for variant, fields in VARIANTS.items():
        spec = SequentialStudySpec(k=K, reference={"evaluations": [5, 25], "keep": [2, 1]}, **fields)
        frame, _ = sequential_study(runs, "l2", spec)
        for run, part in frame.groupby("run", sort=False):
            seq = part[part["kind"] == "sequential"]
            ok = seq[seq["agreement_with_one_stage"] >= GOAL["min_agreement"]]
            best = ok.sort_values("passes_per_image").iloc[0] if len(ok) else None
            rows.append({"variant": variant, "run": run, "k": None if best is None else best["k"],
                         "passes_per_image": None if best is None else best["passes_per_image"],
                         "agreement": None if best is None else best["agreement_with_one_stage"],
                         "accuracy": None if best is None else best["accuracy"],
                         "one_stage_fraction": None if best is None else best["one_stage_fraction"],
                         "reference_fraction": None if best is None else best["reference_fraction"],
                         "with_calibration": None if best is None else best["passes_per_image_with_calibration"],
                         "meets_goal": False if best is None else bool(best["meets_goal"])})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
