"""SD feature maps too large to hold in memory: written in shards, streamed to train.

ImageNet's full training set gives 1,281,167 mid-block maps of ``1280 x 8 x 8`` (~210 GB
in fp16). With ``baselines.features.shard_size`` the extraction writes each split as
``features-NNNNN.safetensors`` files of that many maps (``features`` fp16, ``labels``)
as it goes, and training reads them back one shard at a time: every epoch visits the
shards in a seeded random order and the maps of each shard in a seeded random order
(the usual shard-shuffled stream), so memory holds one shard, not the split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import torch

__all__ = ["SHARD_PATTERN", "write_shards", "shard_paths", "FeatureShards"]

#: A split's shard files, numbered from 0.
SHARD_PATTERN = "features-{:05d}.safetensors"


def write_shards(folder: Path, batches: Iterable[torch.Tensor], labels: torch.Tensor, shard_size: int) -> list[int]:
    """Write ``batches`` (fp16 maps, in label order) as shards of ``shard_size`` maps; return each one's size."""
    from ..artifacts.tensors import save_tensors

    sizes, pending, written = [], [], 0

    def flush(chunk: torch.Tensor) -> None:
        nonlocal written
        save_tensors({"features": chunk.contiguous(), "labels": labels[written:written + len(chunk)].clone()},
                     folder / SHARD_PATTERN.format(len(sizes)))
        sizes.append(len(chunk))
        written += len(chunk)

    for batch in batches:
        pending.append(batch)
        while sum(len(p) for p in pending) >= shard_size:
            joined = torch.cat(pending)
            flush(joined[:shard_size])
            pending = [joined[shard_size:]] if len(joined) > shard_size else []
    if pending and sum(len(p) for p in pending):
        flush(torch.cat(pending))
    if written != len(labels):
        raise RuntimeError(f"wrote {written} maps for {len(labels)} labels")
    return sizes


def shard_paths(split_dir: Path) -> list[Path]:
    """The shards of one split, in order (empty when the split is one file)."""
    return sorted(split_dir.glob(SHARD_PATTERN.replace("{:05d}", "[0-9]" * 5)))


class FeatureShards:
    """A sharded split read one shard at a time (``len``, labels, and shuffled batches per epoch)."""

    def __init__(self, paths: list[Path]) -> None:
        from safetensors import safe_open

        if not paths:
            raise FileNotFoundError("no feature shards to read")
        self.paths = paths
        self.sizes, shapes = [], set()
        for path in paths:
            with safe_open(str(path), framework="pt") as handle:
                shape = handle.get_slice("features").get_shape()
            self.sizes.append(int(shape[0]))
            shapes.add(tuple(shape[1:]))
        if len(shapes) != 1:
            raise ValueError(f"feature shards of {paths[0].parent} disagree on the map shape: {sorted(shapes)}")
        self.feature_shape = shapes.pop()

    def __len__(self) -> int:
        return sum(self.sizes)

    def load(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Shard ``k``: maps (float32) and labels."""
        from safetensors.torch import load_file

        tensors = load_file(self.paths[k])
        return tensors["features"].float(), tensors["labels"]

    def labels(self) -> torch.Tensor:
        from safetensors import safe_open

        parts = []
        for path in self.paths:
            with safe_open(str(path), framework="pt") as handle:
                parts.append(handle.get_tensor("labels"))
        return torch.cat(parts)

    def batches(self, generator: torch.Generator, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch: shards in a random order, each shard's maps in a random order, in batches.

        A shard's last few maps join the next shard's, so every batch but the epoch's last
        is full (the same batch sizes as in memory; BatchNorm refuses a batch of one).
        """
        left_x, left_y = None, None
        for k in torch.randperm(len(self.paths), generator=generator).tolist():
            features, labels = self.load(k)
            order = torch.randperm(len(labels), generator=generator)
            features, labels = features[order], labels[order]
            if left_x is not None:
                features, labels = torch.cat([left_x, features]), torch.cat([left_y, labels])
            full = len(labels) - len(labels) % batch_size
            for start in range(0, full, batch_size):
                yield features[start:start + batch_size], labels[start:start + batch_size]
            left_x, left_y = features[full:], labels[full:]
        if left_y is not None and len(left_y):
            yield left_x, left_y
