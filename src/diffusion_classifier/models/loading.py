"""Loading diffusers components from a local directory or the Hugging Face hub.

Honours the hub cache and offline mode (``HF_HUB_OFFLINE=1``); a checkpoint that
is neither local nor cached is a clear error that says how to get it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..artifacts.provenance import files_sha256
from ..errors import UserError

__all__ = ["resolve_checkpoint", "load_component", "load_scheduler", "weights_sha256", "CheckpointError",
           "place_frozen"]


class CheckpointError(UserError, FileNotFoundError):
    """A model checkpoint is missing or incomplete."""


def resolve_checkpoint(name_or_path: str | os.PathLike, allow_patterns: list[str] | None = None) -> Path:
    """A local directory as is; a hub id through the local cache (then the hub).

    ``allow_patterns`` limits what a hub download fetches (default: every json,
    safetensors and txt file of the repository).
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    if str(name_or_path).startswith((".", "/")) or "results/" in str(name_or_path):
        raise CheckpointError(
            f"model directory {path} does not exist; run the rule that trains or downloads it"
        )
    try:
        from huggingface_hub import snapshot_download

        patterns = allow_patterns or ["*.json", "*.safetensors", "*.txt"]
        return Path(snapshot_download(str(name_or_path), allow_patterns=patterns))
    except Exception as exc:  # the hub client raises many types for offline / gated / missing
        raise CheckpointError(
            f"model {name_or_path!r} is not in the local Hugging Face cache and cannot be "
            f"downloaded ({type(exc).__name__}: {exc}). On a machine with internet run "
            f"`huggingface-cli download {name_or_path}` (accept the licence on the hub first "
            "if the model is gated), then copy the cache (HF_HOME) here, or point the config "
            "at a local directory."
        ) from None


def load_component(root: Path, subfolder: str, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """Instantiate the diffusers class named in ``root/subfolder/config.json``."""
    import diffusers

    config_path = root / subfolder / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{config_path} is missing: {root} is not a complete checkpoint")
    class_name = json.loads(config_path.read_text())["_class_name"]
    if class_name == "Transformer2DModel":
        class_name = "DiTTransformer2DModel"  # DiT checkpoints predate the dedicated class
    try:
        model_cls = getattr(diffusers, class_name)
    except AttributeError:
        raise CheckpointError(f"{config_path} names class {class_name!r}, unknown to diffusers") from None
    return model_cls.from_pretrained(root, subfolder=subfolder, torch_dtype=dtype, low_cpu_mem_usage=False)


def load_scheduler(root: Path):
    """The training noise schedule; only ``alphas_cumprod`` is used, not the sampler."""
    from diffusers import DDPMScheduler

    if not (root / "scheduler").exists():
        raise CheckpointError(f"{root / 'scheduler'} is missing: the checkpoint has no noise schedule")
    return DDPMScheduler.from_pretrained(root, subfolder="scheduler")


def place_frozen(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Frozen, in eval mode, on ``device``; cast only if needed (diffusers warns on every cast)."""
    first = next(module.parameters(), None)
    module = module.to(device) if first is not None and first.dtype == dtype else module.to(device, dtype)
    return module.eval().requires_grad_(False)


def weights_sha256(root: Path) -> str:
    """One hash over every weight file of a checkpoint directory."""
    files = sorted(p for p in root.rglob("*") if p.suffix in {".safetensors", ".bin", ".pth", ".ckpt"})
    return files_sha256(files, root) if files else ""
