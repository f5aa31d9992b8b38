"""A local Hugging Face hub cache holding tiny stand-ins under real repository ids.

The cache has the hub client's own layout, so ``snapshot_download`` with
``HF_HUB_OFFLINE=1`` finds it exactly as it finds a real download::

    <cache>/models--facebook--DiT-XL-2-256/
        blobs/<sha256>                       file contents
        snapshots/<commit>/<path>            symlinks to ../../blobs/<sha256>
        refs/main                            the commit

API:
    write_hub_snapshot(cache, repo_id, source)  files of the folder ``source`` -> the cache; the snapshot dir
    use_hub_cache(monkeypatch, cache)           point env and the imported hub constants at ``cache``, offline
    FakeHub(remote).install(monkeypatch, cache) a "hub" serving folders: snapshot_download copies only the
                                                files its patterns allow into ``cache`` (a fresh cache filling up)
    save_tiny_dit(folder, weights="bin")        facebook/DiT-XL-2-256's layout, tiny: transformer/ (config
                                                class Transformer2DModel), vae/ (kl-f8-shaped AutoencoderKL),
                                                scheduler/ (DDIMScheduler), model_index.json
    truncate(path, keep)                        cut a (cached) file to ``keep`` of its bytes, in its blob
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

DIT_256 = "facebook/DiT-XL-2-256"
DIT_512 = "facebook/DiT-XL-2-512"


def repo_folder(cache: Path, repo_id: str) -> Path:
    return Path(cache) / ("models--" + repo_id.replace("/", "--"))


def write_hub_snapshot(cache: Path, repo_id: str, source: Path, *, files: list[str] | None = None,
                       commit: str | None = None) -> Path:
    """Copy ``files`` (paths relative to ``source``; default all) into the cache under ``repo_id``."""
    source = Path(source)
    names = files if files is not None else sorted(
        p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    repo = repo_folder(cache, repo_id)
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for name in names:
        data = (source / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        if not blob.exists():
            blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def use_hub_cache(monkeypatch, cache: Path, offline: bool = True) -> None:
    """Point the hub client at ``cache`` (env for subprocesses, constants for this process)."""
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


class FakeHub:
    """Repositories served from local folders; records every ``snapshot_download`` call."""

    def __init__(self, remote: dict[str, Path]):
        self.remote = {k: Path(v) for k, v in remote.items()}
        self.calls: list[dict] = []

    def install(self, monkeypatch, cache: Path) -> "FakeHub":
        import huggingface_hub

        use_hub_cache(monkeypatch, cache, offline=False)
        self.cache = Path(cache)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", self.snapshot_download)
        return self

    def snapshot_download(self, repo_id, allow_patterns=None, ignore_patterns=None, **_):
        from huggingface_hub.utils import filter_repo_objects

        self.calls.append({"repo_id": repo_id, "allow_patterns": list(allow_patterns or []),
                           "ignore_patterns": list(ignore_patterns or [])})
        source = self.remote[repo_id]
        everything = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
        chosen = list(filter_repo_objects(everything, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns))
        return str(write_hub_snapshot(self.cache, repo_id, source, files=chosen))

    def fetched(self) -> list[str]:
        """Every file any call placed in the cache, relative to the snapshot."""
        return sorted({p.relative_to(s).as_posix() for repo in self.remote for s in
                       (repo_folder(self.cache, repo) / "snapshots").glob("*") for p in s.rglob("*")
                       if p.is_file()})


def tiny_kl_f8_vae(image_channels: int = 3, latent_channels: int = 4, **overrides):
    """An AutoencoderKL with Stable Diffusion's kl-f8 shape (4 levels: 1/8 scale, 4 latent channels), tiny widths."""
    from diffusers import AutoencoderKL

    torch.manual_seed(1)
    kwargs = dict(in_channels=image_channels, out_channels=image_channels, latent_channels=latent_channels,
                  block_out_channels=(8, 8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 4,
                  up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=1, norm_num_groups=4,
                  sample_size=32)
    kwargs.update(overrides)
    return AutoencoderKL(**kwargs).eval()


def tiny_dit_transformer(sample_size: int = 4, num_classes: int = 10):
    """A DiTTransformer2DModel shaped like DiT-XL/2 (4 latent channels in, eps + variance out), tiny."""
    from diffusers import DiTTransformer2DModel

    torch.manual_seed(0)
    return DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8,
                                 num_layers=2, sample_size=sample_size, patch_size=2, norm_num_groups=4,
                                 num_embeds_ada_norm=num_classes).eval()


def save_tiny_dit(folder: Path, *, weights: str = "bin", sample_size: int = 4, num_classes: int = 10,
                  vae=None) -> dict:
    """Write a DiT repository's layout with tiny random weights (``weights``: ``bin`` or ``safetensors``).

    Like the hub's facebook/DiT-XL-2-256: the transformer's config names the class
    ``Transformer2DModel`` (DiT predates diffusers' dedicated class), the scheduler is
    a linear-beta DDIMScheduler, and the weights are ``diffusion_pytorch_model.bin``.
    Returns the modules written (``transformer``, ``vae``).
    """
    from diffusers import DDIMScheduler

    folder = Path(folder)
    transformer = tiny_dit_transformer(sample_size, num_classes)
    vae = vae if vae is not None else tiny_kl_f8_vae(sample_size=sample_size * 8)
    safe = {"bin": False, "safetensors": True}[weights]
    transformer.save_pretrained(folder / "transformer", safe_serialization=safe)
    vae.save_pretrained(folder / "vae", safe_serialization=safe)
    config_path = folder / "transformer" / "config.json"
    config = json.loads(config_path.read_text())
    config.update({"_class_name": "Transformer2DModel", "norm_type": "ada_norm_zero"})
    config_path.write_text(json.dumps(config, indent=2))
    DDIMScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", num_train_timesteps=1000,
                  clip_sample=False).save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "DiTPipeline", "_diffusers_version": "0.12.0.dev0",
        "scheduler": ["diffusers", "DDIMScheduler"], "transformer": ["diffusers", "Transformer2DModel"],
        "vae": ["diffusers", "AutoencoderKL"]}, indent=2))
    return {"transformer": transformer, "vae": vae}


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut the file behind ``path`` (its blob when ``path`` is a cache symlink) to ``keep`` of its size."""
    target = Path(path).resolve()
    data = target.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target
