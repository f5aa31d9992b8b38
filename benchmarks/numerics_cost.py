"""What portable numerics cost on this CPU: training steps and scoring passes, portable against native.

Each measurement runs in its own process (the pins are read when torch loads), one
thread, on the embedded default's model shapes (config/mini.yaml: ``digits_unet``,
``digits_text``): seconds per training step at the embedded batch size, and
milliseconds per scored pair at the configured batch size (native) against pieces of
``numerics.FORWARD_ROWS`` rows (portable). Run it on an idle machine:

    python benchmarks/numerics_cost.py [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from diffusion_classifier import numerics
from diffusion_classifier.artifacts.provenance import machine

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys, time
from diffusion_classifier import numerics
numerics.pin()
import torch
from diffusion_classifier.models.architectures import build_architecture
numerics.configure_torch(1)
model, steps, score_batch = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
train, image = model["train"], model["image"]
text = model["adapter"] == "stable_diffusion"
if text:  # the text model's widths: its config, else TextTrainConfig's defaults
    from diffusion_classifier.models.text_training import TextTrainConfig
    defaults = TextTrainConfig(**{k: v for k, v in train.items() if k in TextTrainConfig.__dataclass_fields__})
    tokens, width = defaults.model_max_length, defaults.text_hidden_size
kwargs = dict(train.get("architecture_kwargs", {}), sample_size=image["size"], in_channels=image["channels"])
kwargs.update({"cross_attention_dim": width} if text else {"num_classes": 10})
torch.manual_seed(0)
net = build_architecture(train["architecture"], **kwargs)
g = torch.Generator().manual_seed(1)

def forward(n):
    x = torch.randn(n, image["channels"], image["size"], image["size"], generator=g)
    t = torch.randint(0, 1000, (n,), generator=g)
    if text:
        return net(x, t, encoder_hidden_states=torch.randn(n, tokens, width, generator=g)).sample
    return net(x, t, class_labels=torch.randint(0, 10, (n,), generator=g)).sample

opt = torch.optim.AdamW(net.parameters(), 1e-3)
forward(train["batch_size"]).pow(2).mean().backward()  # warm-up
start = time.perf_counter()
for _ in range(steps):
    opt.zero_grad(); forward(train["batch_size"]).pow(2).mean().backward(); opt.step()
train_s = (time.perf_counter() - start) / steps
net.eval()
rows = numerics.forward_rows("cpu") or score_batch
with torch.no_grad():
    forward(rows)
    start = time.perf_counter()
    for _ in range(max(1, 2000 // rows)):
        forward(rows)
    pair_ms = (time.perf_counter() - start) / (max(1, 2000 // rows) * rows) * 1e3
print(json.dumps({"train_step_s": train_s, "pair_ms": pair_ms, "rows": rows,
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def measure(mode: str, model: dict, steps: int, score_batch: int) -> dict:
    env = {**os.environ, numerics.MODE_ENV: mode}
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(model), str(steps), str(score_batch)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps timed per model and mode")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config/mini.yaml").read_text())
    cpu = (machine().get("cpu") or {}).get("model") or "unknown CPU"
    print(f"CPU: {cpu}; one thread; {args.steps} training steps per model and mode\n")
    print("| model | mode | kernels | training step (s) | scored pair (ms) | rows per forward |")
    print("|---|---|---|---|---|---|")
    for name in ("digits_unet", "digits_text"):
        model = config["models"][name]
        score_batch = config["scoring"]["batch_size"]
        results = {mode: measure(mode, model, args.steps, score_batch) for mode in ("native", "portable")}
        for mode, r in results.items():
            print(f"| {name} | {mode} | {r['capability']} | {r['train_step_s']:.3f} | {r['pair_ms']:.3f} | {r['rows']} |")
        n, p = results["native"], results["portable"]
        print(f"| {name} | portable / native | | {p['train_step_s'] / n['train_step_s']:.2f}x | "
              f"{p['pair_ms'] / n['pair_ms']:.2f}x | |")


if __name__ == "__main__":
    main()
