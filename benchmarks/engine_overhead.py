"""Engine overhead: passes per second of DiffusionClassifier against a bare loop.

Both run the same tiny class-conditional UNet at the same batch size on the same
inputs; the bare loop only calls the network, the engine also builds x_t, gathers
conditions, computes errors and ranks classes. Goal: overhead <= 10%.

    python benchmarks/engine_overhead.py [--threads 2] [--batch-size 250] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.models import ClassConditionalPredictor
from diffusion_classifier.models.architectures import build_architecture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--evaluations", type=int, default=25)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    network = build_architecture("tiny_unet", num_classes=args.classes, sample_size=16, in_channels=1)
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
    predictor = ClassConditionalPredictor(network, abar)
    schedule = Schedule.one_stage(args.evaluations)
    classifier = DiffusionClassifier(predictor, predictor.conditioning(range(args.classes)),
                                     ScoringConfig(schedule, batch_size=args.batch_size))
    images = torch.randn(args.images, 1, 16, 16)
    noises = [draw_noise(i, schedule.num_noise, (1, 16, 16)) for i in range(args.images)]
    passes = schedule.passes(args.classes) * args.images

    # The bare loop: the same forward passes, same batch size, nothing else.
    grid = torch.tensor(schedule.grid)
    t_all = grid.repeat(args.classes)
    y_all = torch.arange(args.classes).repeat_interleave(len(grid))
    x_all = torch.randn(len(t_all), 1, 16, 16)

    def bare() -> None:
        with torch.no_grad():
            for _ in range(args.images):
                for lo in range(0, len(t_all), args.batch_size):
                    sl = slice(lo, lo + args.batch_size)
                    predictor.network(x_all[sl], t_all[sl], class_labels=y_all[sl])

    def engine() -> None:
        for x0, noise in zip(images, noises):
            classifier.classify(x0, noise)

    bare(), engine()  # warm-up
    timings = {"bare": [], "engine": []}
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        for name, fn in (("bare", bare), ("engine", engine)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in timings.items()}
    rate = {name: passes / seconds for name, seconds in best.items()}
    print(f"tiny_unet 16x16, {args.classes} classes x {args.evaluations} timesteps, batch {args.batch_size}, "
          f"{args.threads} threads, {args.images} images, best of {args.repeats}")
    print(f"bare loop : {rate['bare']:8.0f} passes/s")
    print(f"engine    : {rate['engine']:8.0f} passes/s")
    print(f"overhead  : {100 * (best['engine'] / best['bare'] - 1):+.1f}%")


if __name__ == "__main__":
    main()
