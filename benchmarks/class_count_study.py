"""The class-count study (sequential elimination at 10, 100 and 1,000 classes) at a larger size
than the embedded default's.

The study itself is :mod:`diffusion_classifier.reporting.class_count_study` (the workflow's
``class_count_study`` rule runs it with ``supervised.schedules.class_count`` of
config/mini.yaml); this script runs the same code with more images, spreads and k, and the
schedules of config/mini.yaml's section, and prints the table and each part's CPU seconds.

    PYTHONPATH=src python benchmarks/class_count_study.py [--images 60] [--bayes 0.95 0.7 0.45]
        [--k 2 3 4] [--out DIR]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import yaml

from diffusion_classifier import numerics
from diffusion_classifier.reporting import write_table
from diffusion_classifier.reporting.class_count_study import class_count_study, plot_class_count
from diffusion_classifier.specs import ClassCountStudySpec, from_dict

MINI = Path(__file__).resolve().parents[1] / "config" / "mini.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60, help="images per class count and spread")
    parser.add_argument("--bayes", type=float, nargs="+", default=[0.95, 0.7, 0.45],
                        help="Bayes accuracies the spreads are chosen for, at each class count")
    parser.add_argument("--k", type=float, nargs="+", default=[2.0, 3.0, 4.0])
    parser.add_argument("--classes", type=int, nargs="+", default=None, help="class counts (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="folder for class_count_study.{md,csv,png}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    numerics.configure_torch()
    section = yaml.safe_load(MINI.read_text())["supervised"]["schedules"]["class_count"]
    schedules = [s for s in section["schedules"] if args.classes is None or s["classes"] in args.classes]
    spec = from_dict(ClassCountStudySpec, {**section, "schedules": schedules, "images": args.images,
                                           "bayes_accuracy": args.bayes, "k": args.k}, "class_count_study")
    start, wall = time.process_time(), time.perf_counter()
    result = class_count_study(spec)
    print(result.frame.round(4).to_string(index=False))
    print(result.caption)
    print(f"{time.process_time() - start:.1f} CPU s, {time.perf_counter() - wall:.1f} s wall; machine: "
          f"{numerics.state()}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_table(result.frame, args.out / "class_count_study", result.caption)
        plot_class_count(result.frame, args.out / "class_count_study.png")


if __name__ == "__main__":
    main()
