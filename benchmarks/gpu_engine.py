"""The authors' scoring loop against this engine, on the same network, inputs and noise.

One process, one network per model shape, random weights (throughput does not depend
on them; nothing is downloaded):

* ``sd``: a UNet2DConditionModel built from stabilityai/stable-diffusion-2-base's
  config (64x64 latents, 1024-wide text embeddings; 0.804 TFLOP per pass), scored as
  the authors' release does it for zero-shot classification: per-prompt lists of
  (timestep, noise index, prompt index), batches of 32, float16 weights and noise,
  the errors copied to the host after every batch, the kept prompts by ``topk`` of the
  negated mean errors (a re-implementation of ``eval_prob_adaptive`` / ``eval_error``
  of github.com/diffusion-classifier/diffusion-classifier, commit e9f772d7), against
  :class:`~diffusion_classifier.engine.DiffusionClassifier` with its acceleration
  switches (bf16 autocast, TF32, channels_last, padded static batches, larger batch);
* ``dit``: a DiT-XL/2-shaped transformer (diffusers DiTTransformer2DModel, 32x32x4
  latents = 256 px, learned variance), authors' setup float32 with TF32 off, against
  the engine in bf16 autocast with TF32.

Both loops score the same latents with the same noise per grid point, so their
per-pair errors are compared (max relative difference, prediction agreement).
Printed per model: passes/s, images/s, peak device memory, MFU (achieved FLOP/s over
``--peak-tflops``), and, with ``--sequential-passes``, GPU time per image of the
sequential strategy against the authors' schedule.

    # GPU machine (H100/H200 class: --peak-tflops 989 for dense bf16), ~6 minutes:
    python benchmarks/gpu_engine.py --device cuda --models sd dit --peak-tflops 989
    # ... with the batch size from free memory and batches packed across 4 images:
    python benchmarks/gpu_engine.py --device cuda --models sd dit --peak-tflops 989 --batch-size auto --images 4 --pack 4
    # CPU smoke test (tiny shapes, seconds; what tests/test_benchmarks.py runs):
    python benchmarks/gpu_engine.py --device cpu --tiny --images 1
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig
from diffusion_classifier.engine.acceleration import Acceleration
from diffusion_classifier.engine.noising import forward_noise
from diffusion_classifier.engine.predictor import NoisePrediction, NoisePredictor

# stabilityai/stable-diffusion-2-base unet/config.json (the fields that shape compute).
SD2_BASE_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024, use_linear_projection=True, norm_num_groups=32,
)
TINY_UNET = dict(
    sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    attention_head_dim=8, cross_attention_dim=32, use_linear_projection=True, norm_num_groups=8,
)
# facebook/DiT-XL-2-256 transformer/config.json
DIT_XL2_256 = dict(sample_size=32, in_channels=4, out_channels=8, num_layers=28, num_attention_heads=16,
                   attention_head_dim=72, patch_size=2, num_embeds_ada_norm=1000)
TINY_DIT = dict(sample_size=8, in_channels=4, out_channels=8, num_layers=2, num_attention_heads=2,
                attention_head_dim=16, patch_size=2, num_embeds_ada_norm=1000)
# Forward FLOPs per pass (multiply-add = 2): SD-2-base UNet at 64x64 (the figure);
# DiT-XL/2 at 256 px: 118.6 GFLOPs (x2 multiply-adds) as in the DiT paper's Table 4.
FLOPS_PER_PASS = {"sd": 0.804e12, "dit": 2 * 118.6e9}


@dataclass
class Setup:
    """One model shape: the network, its conditioning table and the schedule scored."""

    name: str
    network: torch.nn.Module
    conditioning: torch.Tensor
    latent_shape: tuple[int, ...]
    schedule: Schedule
    learns_variance: bool


def linear_abar() -> torch.Tensor:
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


class NetworkPredictor(NoisePredictor):
    """The benchmark's network as the engine's noise predictor (text or class conditioning)."""

    def __init__(self, setup: Setup, device: torch.device, dtype: torch.dtype) -> None:
        self.alphas_cumprod = linear_abar()
        self.network, self.setup = setup.network, setup
        self.device, self.dtype, self.learns_variance = device, dtype, setup.learns_variance
        self.model_id = setup.name

    def predict(self, x_t, timesteps, conditions) -> NoisePrediction:
        if self.setup.name == "sd":
            return NoisePrediction(self.network(x_t, timesteps, encoder_hidden_states=conditions).sample)
        out = self.network(x_t, timestep=timesteps, class_labels=conditions).sample
        eps, variance = out.split(x_t.shape[1], dim=1)
        return NoisePrediction(eps, variance)


def build(name: str, tiny: bool, classes: int, device: torch.device, dtype: torch.dtype, evaluations, keep) -> Setup:
    torch.manual_seed(0)
    if name == "sd":
        from diffusers import UNet2DConditionModel

        cfg = TINY_UNET if tiny else SD2_BASE_UNET
        network = UNet2DConditionModel(**cfg)
        conditioning = torch.randn(classes, 77, cfg["cross_attention_dim"])
        learns_variance = False
    else:
        from diffusers import DiTTransformer2DModel

        cfg = TINY_DIT if tiny else DIT_XL2_256
        network = DiTTransformer2DModel(**cfg)
        conditioning = torch.arange(classes)
        learns_variance = True
    network = network.to(device, dtype).eval().requires_grad_(False)
    if conditioning.is_floating_point():
        conditioning = conditioning.to(device, dtype)
    else:
        conditioning = conditioning.to(device)
    shape = (cfg["in_channels"], cfg["sample_size"], cfg["sample_size"])
    return Setup(name, network, conditioning, shape, Schedule(tuple(evaluations), tuple(keep)), learns_variance)


def authors_loop(setup: Setup, latent, all_noise, abar, batch_size: int, dtype) -> tuple[int, dict, int]:
    """Algorithm 2 as the authors' release runs it (per-prompt pair lists, host copy per batch)."""
    grid_size = max(setup.schedule.evaluations)
    T = 1000
    t_to_eval = list(range(T // grid_size // 2, T, T // grid_size))[:grid_size]
    abar = abar.to(dtype)
    data, evaluated, remaining, passes = {}, set(), list(range(len(setup.conditioning))), 0
    for n_samples, n_keep in zip(setup.schedule.evaluations, setup.schedule.keep):
        current = t_to_eval[len(t_to_eval) // n_samples // 2::len(t_to_eval) // n_samples][:n_samples]
        current = [t for t in current if t not in evaluated]
        ts, noise_idxs, prompt_idxs = [], [], []
        for prompt in remaining:
            for t in current:
                ts.append(t)
                noise_idxs.append(t_to_eval.index(t))  # this repo: noise j belongs to grid point j
                prompt_idxs.append(prompt)
        evaluated.update(current)
        errors = torch.zeros(len(ts))
        with torch.inference_mode():
            for lo in range(0, len(ts), batch_size):
                bt = torch.tensor(ts[lo:lo + batch_size])
                noise = all_noise[noise_idxs[lo:lo + batch_size]]
                a = abar[bt].view(-1, 1, 1, 1).to(latent.device)
                x_t = forward_noise(latent, noise, a)  # in the authors' dtype, as they do
                t_in = bt.to(latent.device).to(dtype) if dtype == torch.float16 else bt.to(latent.device)
                cond = setup.conditioning[prompt_idxs[lo:lo + batch_size]]
                if setup.name == "sd":
                    pred = setup.network(x_t, t_in, encoder_hidden_states=cond).sample
                else:
                    pred = setup.network(x_t, timestep=bt.to(latent.device), class_labels=cond).sample
                    pred = pred[:, : latent.shape[1]]
                err = F.mse_loss(noise, pred, reduction="none").mean(dim=(1, 2, 3))
                errors[lo:lo + len(bt)] = err.detach().float().cpu()
        passes += len(ts)
        prompt_tensor, t_tensor = torch.tensor(prompt_idxs), torch.tensor(ts)
        for prompt in remaining:
            mask = prompt_tensor == prompt
            entry = data.setdefault(prompt, {"t": t_tensor[:0], "errors": errors[:0]})
            entry["t"] = torch.cat([entry["t"], t_tensor[mask]])
            entry["errors"] = torch.cat([entry["errors"], errors[mask]])
        means = torch.tensor([-data[p]["errors"].mean() for p in remaining])
        remaining = [remaining[i] for i in torch.topk(means, k=min(n_keep, len(remaining))).indices.tolist()]
    return remaining[0], data, passes


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn, images: int, device: torch.device) -> tuple[float, float, list]:
    """Seconds for ``images`` calls of ``fn`` (after one warm-up call), peak memory (GiB), outputs."""
    fn(0)
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    outputs = [fn(i) for i in range(images)]
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return seconds, peak, outputs


def run_model(name: str, args, device: torch.device) -> dict:
    authors_dtype = {"sd": torch.float16, "dit": torch.float32}[name] if device.type == "cuda" else torch.float32
    evaluations, keep = (args.evaluations, args.keep) if not args.tiny else ((2, 4), (2, 1))
    setup = build(name, args.tiny, args.classes, device, authors_dtype, evaluations, keep)
    g = torch.Generator("cpu").manual_seed(0)
    latents = torch.randn(args.images, *setup.latent_shape, generator=g)
    noises = torch.randn(args.images, setup.schedule.num_noise, *setup.latent_shape, generator=g)
    abar = linear_abar()

    # The authors' loop: their dtype, batch 32, TF32 at PyTorch's defaults (off for matmuls).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # their script sets it

    def authors(i):
        return authors_loop(setup, latents[i].to(device, authors_dtype).unsqueeze(0),
                            noises[i].to(device, authors_dtype), abar, 32, authors_dtype)

    a_sec, a_peak, a_out = measure(authors, args.images, device)

    # This engine: float32 weights (bf16 autocast on a GPU), TF32, channels_last, static shapes.
    setup.network.to(torch.float32)
    if setup.conditioning.is_floating_point():
        setup.conditioning = setup.conditioning.float()
    accel = Acceleration(autocast="bfloat16", tf32=True, cudnn_benchmark=True, channels_last=name == "sd",
                         pad_batches=True, compile=args.compile) if device.type == "cuda" else Acceleration()
    predictor = NetworkPredictor(setup, device, torch.float32)
    config = ScoringConfig(setup.schedule, batch_size=args.batch_size, acceleration=accel)
    classifier = DiffusionClassifier(predictor, setup.conditioning, config)

    def engine(i):
        return classifier.classify(latents[i].to(device), noises[i].to(device))

    e_sec, e_peak, e_out = measure(engine, args.images, device)

    if args.pack > 1:
        # The same images with batches packed across groups of --pack images (engine/scoring.py, classify_packed).
        groups = [list(range(lo, min(lo + args.pack, args.images))) for lo in range(0, args.images, args.pack)]

        def packed(i):
            group = groups[i] if i < len(groups) else groups[0]
            return classifier.classify_packed([(latents[j].to(device), noises[j].to(device)) for j in group])

        p_sec, p_peak, p_out = measure(packed, len(groups), device)
        p_scores = [s for out in p_out for s in out]

    # Per-pair agreement: the authors' errors keyed by (prompt, t) against the engine's.
    diffs, agree = [], 0
    grid = setup.schedule.grid
    for (pred_a, data, _), scores in zip(a_out, e_out):
        agree += int(pred_a == scores.prediction)
        engine_err = {(int(c), grid[int(j)]): float(e) for c, j, e in
                      zip(scores.condition, scores.grid_index, scores.errors["l2"])}
        for prompt, entry in data.items():
            for t, e in zip(entry["t"].tolist(), entry["errors"].tolist()):
                if (prompt, t) in engine_err:
                    diffs.append(abs(engine_err[(prompt, t)] - e) / max(abs(e), 1e-12))
    passes = a_out[0][2]
    flops = FLOPS_PER_PASS[name] if not args.tiny else float("nan")
    result = {"model": name, "tiny": args.tiny, "device": device_name(device), "images": args.images,
              "classes": args.classes, "schedule": {"evaluations": list(evaluations), "keep": list(keep)},
              "passes_per_image": passes}
    for who, sec, peak, dtype, bs in (("authors", a_sec, a_peak, str(authors_dtype), 32),
                                      ("engine", e_sec, e_peak, f"float32 + {accel.autocast} autocast",
                                       classifier.batch_size)):
        rate = passes * args.images / sec
        result[who] = {"dtype": dtype, "batch_size": bs, "seconds": sec, "passes_per_s": rate,
                       "images_per_s": args.images / sec, "peak_memory_gib": peak,
                       "mfu": rate * flops / (args.peak_tflops * 1e12) if args.peak_tflops else None}
    result["speedup"] = result["engine"]["passes_per_s"] / result["authors"]["passes_per_s"]
    result["max_relative_error_difference"] = max(diffs) if diffs else None
    result["median_relative_error_difference"] = sorted(diffs)[len(diffs) // 2] if diffs else None
    result["prediction_agreement"] = agree / args.images
    result["engine_acceleration"] = accel.to_dict()
    result["engine_batch_size"] = classifier.batch_size  # what `auto` chose
    if args.pack > 1:
        rate = passes * args.images / p_sec
        result["engine_packed"] = {
            "pack_images": args.pack, "seconds": p_sec, "passes_per_s": rate, "images_per_s": args.images / p_sec,
            "peak_memory_gib": p_peak, "mfu": rate * flops / (args.peak_tflops * 1e12) if args.peak_tflops else None,
            "max_relative_error_difference_to_unpacked": max(
                float(abs(a.errors["l2"] - b.errors["l2"]).max() / max(abs(b.errors["l2"]).max(), 1e-12))
                for a, b in zip(p_scores, e_out)),
            "prediction_agreement_with_unpacked": sum(a.prediction == b.prediction
                                                      for a, b in zip(p_scores, e_out)) / args.images}
    if args.sequential_passes:
        # GPU time per image: the sequential strategy's passes (from the embedded study) at the
        # engine's rate against the authors' schedule at theirs.
        seq_seconds = args.sequential_passes / result["engine"]["passes_per_s"]
        result["sequential"] = {"passes_per_image": args.sequential_passes, "seconds_per_image": seq_seconds,
                                "authors_seconds_per_image": passes / result["authors"]["passes_per_s"],
                                "gain": passes / result["authors"]["passes_per_s"] / seq_seconds}
    return result


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=["sd", "dit"], choices=["sd", "dit"])
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (CPU smoke test)")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--classes", type=int, default=37, help="candidate classes (Pets: 37)")
    parser.add_argument("--evaluations", nargs="+", type=int, default=[25, 250], help="TrialList (Pets: 25 250)")
    parser.add_argument("--keep", nargs="+", type=int, default=[5, 1], help="KeepList (Pets: 5 1)")
    parser.add_argument("--batch-size", type=lambda v: v if v == "auto" else int(v), default=128,
                        help="the engine's batch size, or auto (from free device memory)")
    parser.add_argument("--pack", type=int, default=1,
                        help="also score the images in groups of this many, batches packed across them")
    parser.add_argument("--compile", action="store_true", help="torch.compile the engine's forward")
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="device peak for MFU (H100/H200 bf16: 989)")
    parser.add_argument("--sequential-passes", type=float, default=0.0,
                        help="passes per image of the sequential strategy, for GPU time per image")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"device {device_name(device)}, torch {torch.__version__}")
    results = []
    for name in args.models:
        r = run_model(name, args, device)
        results.append(r)
        print(f"\n{name}{' (tiny)' if args.tiny else ''}: {args.images} images x {r['passes_per_image']} passes "
              f"({args.classes} classes, schedule {r['schedule']})")
        for who in ("authors", "engine"):
            m = r[who]
            mfu = f", MFU {100 * m['mfu']:.1f}%" if m["mfu"] is not None and m["mfu"] == m["mfu"] else ""
            print(f"  {who:8s} {m['dtype']:28s} batch {m['batch_size']:4d}: {m['passes_per_s']:9.1f} passes/s, "
                  f"{m['images_per_s']:.3f} images/s, peak {m['peak_memory_gib']:.2f} GiB{mfu}")
        print(f"  speedup {r['speedup']:.2f}x; per-pair error difference max {r['max_relative_error_difference']:.2e} "
              f"(median {r['median_relative_error_difference']:.2e}) relative; predictions agree on "
              f"{100 * r['prediction_agreement']:.0f}% of images")
        if "engine_packed" in r:
            m = r["engine_packed"]
            print(f"  packed   {m['pack_images']} images per group: {m['passes_per_s']:9.1f} passes/s, "
                  f"{m['images_per_s']:.3f} images/s, peak {m['peak_memory_gib']:.2f} GiB; errors vs unpacked max "
                  f"{m['max_relative_error_difference_to_unpacked']:.2e} relative, predictions agree on "
                  f"{100 * m['prediction_agreement_with_unpacked']:.0f}%")
        if "sequential" in r:
            s = r["sequential"]
            print(f"  sequential: {s['passes_per_image']:.0f} passes/image -> {s['seconds_per_image']:.2f} s/image vs "
                  f"the authors' {s['authors_seconds_per_image']:.2f} s/image ({s['gain']:.1f}x less GPU time)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == "__main__":
    main()
