"""Noise-predictor passes per second of a Stable-Diffusion-2-shaped UNet.

Builds UNet2DConditionModel from the configuration of stabilityai/stable-diffusion-2-base
(random weights: throughput does not depend on them, and no download is needed) and
times the engine's inner loop, one forward pass over a batch of (x_t, t, prompt
embedding) inputs, at several batch sizes and dtypes. The paper reports 18 s per Pets
image on one RTX 3090 and about 1000 s per ImageNet image (Sec. 4.2); at 2,050 and
124,500 passes per image (the schedules of its Appendix A) that is ~114 and ~125 passes
per second, derived here from those figures (the paper states no rate; the authors'
scripts run fp16 at batch 32).

    python benchmarks/sd_unet_throughput.py --device cuda --dtypes float16 bfloat16 --batch-sizes 16 32 64
    python benchmarks/sd_unet_throughput.py --device cpu --batch-sizes 1 --iters 1   # smoke test
"""

from __future__ import annotations

import argparse
import time

import torch

# stabilityai/stable-diffusion-2-base unet/config.json (the fields that shape compute).
SD2_BASE_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    attention_head_dim=(5, 10, 20, 20),
    cross_attention_dim=1024,
    use_linear_projection=True,
    norm_num_groups=32,
)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtypes", nargs="+", default=["float16"], choices=sorted(DTYPES))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    args = parser.parse_args()
    from diffusers import UNet2DConditionModel

    device = torch.device(args.device)
    print(f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, torch {torch.__version__}")
    for dtype_name in args.dtypes:
        dtype = DTYPES[dtype_name]
        unet = UNet2DConditionModel(**SD2_BASE_UNET).to(device, dtype).eval().requires_grad_(False)
        params = sum(p.numel() for p in unet.parameters()) / 1e6
        network = torch.compile(unet) if args.compile else unet
        for batch in args.batch_sizes:
            x = torch.randn(batch, 4, 64, 64, device=device, dtype=dtype)
            t = torch.randint(0, 1000, (batch,), device=device)
            text = torch.randn(batch, 77, 1024, device=device, dtype=dtype)
            with torch.no_grad():
                network(x, t, encoder_hidden_states=text)  # warm-up (and compilation)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                for _ in range(args.iters):
                    network(x, t, encoder_hidden_states=text)
                if device.type == "cuda":
                    torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            rate = batch * args.iters / seconds
            memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
            print(f"{dtype_name:9s} batch {batch:4d}: {rate:8.1f} passes/s  "
                  f"(Pets 2,050 passes: {2050 / rate:6.1f} s/image; ImageNet 124,500: {124500 / rate:7.0f} s/image)"
                  f"  peak {memory:.1f} GiB  [{params:.0f} M params]")


if __name__ == "__main__":
    main()
