"""Loading diffusers components from a local directory or the Hugging Face hub.

Honours the hub cache and offline mode (``HF_HUB_OFFLINE=1``); a checkpoint that
is neither local nor cached is a clear error that says how to get it.

Weights are read from safetensors wherever a component has them. A component that
only has a pickle-based ``.bin`` (the hub's ``facebook/DiT-XL-2-256`` and ``-512``
hold nothing else) is fetched and read with ``torch.load(weights_only=True)`` (the
loaders of diffusers and transformers pass it), which refuses any pickled object
that is not a tensor or a plain container. A truncated or damaged weights file is
a one-line :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..artifacts.provenance import files_sha256
from ..errors import UserError

__all__ = ["resolve_checkpoint", "load_component", "load_scheduler", "weights_sha256", "CheckpointError",
           "place_frozen", "component_weights", "read_weights"]

# What a hub download fetches first: configs, tokenizer files and safetensors weights.
_METADATA_PATTERNS = ("*.json", "*.txt")
# Reduced-precision / alternative copies next to the main weights: never loaded, never fetched.
_VARIANT_PATTERNS = ["*.fp16.*", "*.ema.*", "*.non_ema.*"]
# Weight files in the order a component's loader asks for them (safetensors first).
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


class CheckpointError(UserError, FileNotFoundError):
    """A model checkpoint is missing, incomplete or damaged."""


def _is_variant(path: Path) -> bool:
    return any(f".{tag}." in path.name for tag in ("fp16", "ema", "non_ema"))


def component_weights(folder: Path) -> list[Path]:
    """The weight files a component's loader reads: its safetensors, else its ``.bin``.

    Sharded checkpoints count every shard; reduced-precision variants
    (``*.fp16.safetensors``) are never chosen. Empty when the folder has no weights.
    """
    for suffix in _WEIGHT_SUFFIXES:
        files = sorted(p for p in folder.glob(f"*{suffix}") if not _is_variant(p))
        if files:
            return files
    return []


def _weight_components(root: Path, components: Sequence[str] | None) -> list[Path]:
    """Component folders that carry weights (those with a ``config.json``)."""
    folders = [root / c for c in components] if components is not None else sorted(
        p.parent for p in root.glob("*/config.json"))
    return [f for f in folders if (f / "config.json").is_file()]


def _download(name: str, allow_patterns: list[str]) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=allow_patterns, ignore_patterns=_VARIANT_PATTERNS))
    except Exception as exc:  # the hub client raises many types for offline / gated / missing
        raise CheckpointError(
            f"model {name!r} is neither a local directory nor in the local Hugging Face cache, and cannot be "
            f"downloaded ({_first_line(exc)}). On a machine with internet run "
            f"`huggingface-cli download {name}` (accept the licence on the hub first "
            "if the model is gated) and copy its cache (HF_HOME) here, or give a local directory."
        ) from None


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def looks_like_path(name: str | os.PathLike) -> bool:
    """Whether ``name`` is meant as a local path rather than a hub id (``owner/name``):
    it starts with ``.``, ``/`` or ``~``, holds a backslash or more than one ``/``, is
    not a valid repository id, or its first part is a local folder."""
    text = os.fspath(name)
    if text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1 or "results/" in text:
        return True
    if not _HUB_ID.fullmatch(text):
        return True
    return "/" in text and Path(text).parent.is_dir()


def resolve_checkpoint(name_or_path: str | os.PathLike, components: Sequence[str] | None = None, *,
                       weights: bool = True) -> Path:
    """A local directory as is; a hub id through the local cache (then the hub).

    A hub download fetches the configs, tokenizer files and safetensors weights of
    ``components`` (default: the whole repository), then the ``.bin`` weights of
    exactly those components that have no safetensors. Variant copies (fp16, ema)
    are never fetched. ``weights=False`` fetches the configs and tokenizer files only.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    if looks_like_path(name_or_path):
        raise CheckpointError(
            f"model directory {name_or_path} does not exist (it looks like a local path, so it is not looked "
            "up on the Hugging Face hub): check the path, or train or download the model there"
        )
    name = str(name_or_path)
    scopes = [f"{c}/" for c in components] if components is not None else [""]
    patterns = (*_METADATA_PATTERNS, "*.safetensors") if weights else _METADATA_PATTERNS
    root = _download(name, [f"{s}{p}" for s in scopes for p in patterns])
    if not weights:
        return root
    pickled_only = [f for f in _weight_components(root, components) if not component_weights(f)]
    if pickled_only:
        root = _download(name, [f"{f.relative_to(root).as_posix()}/*.bin" for f in pickled_only])
    return root


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def read_weights(folder: Path, load: Callable[[bool], torch.nn.Module]) -> torch.nn.Module:
    """Run ``load(use_safetensors)`` on the component in ``folder`` with clear errors.

    No weights file, or one that cannot be read (truncated download, damaged file,
    a ``.bin`` that holds pickled objects), is a :class:`CheckpointError` naming it.
    """
    files = component_weights(folder)
    if not files:
        raise CheckpointError(
            f"{folder} has no weights file (*.safetensors or *.bin): the checkpoint is incomplete; "
            "download it again (`huggingface-cli download <repo>`) or train it again"
        )
    try:
        return load(files[0].suffix == ".safetensors")
    except Exception as exc:  # safetensors, torch.load and the loaders raise many types
        named = files[0] if len(files) == 1 else folder
        blob = f" (-> {named.resolve()})" if named.is_symlink() else ""
        raise CheckpointError(
            f"{named}{blob} cannot be read as weights ({_first_line(exc)}): the file is truncated or "
            "damaged, or holds pickled objects; delete it and download it again"
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
    return read_weights(root / subfolder, lambda safetensors: model_cls.from_pretrained(
        root, subfolder=subfolder, torch_dtype=dtype, low_cpu_mem_usage=False, use_safetensors=safetensors))


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


def weights_sha256(root: Path, components: Sequence[str] | None = None) -> str:
    """One hash over the weight files the components' loaders read (see :func:`component_weights`)."""
    files = [p for folder in _weight_components(root, components) for p in component_weights(folder)]
    return files_sha256(files, root) if files else ""
