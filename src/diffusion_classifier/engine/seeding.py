"""Per-image seeds (torch-free: the jobs that only plan or merge images import it too)."""

from __future__ import annotations

import hashlib

__all__ = ["image_seed"]


def image_seed(global_seed: int, image_id: str) -> int:
    """A per-image seed derived from the run's seed and the image id.

    Derived by hashing rather than by position so that a shard split, a resumed run
    or a reordered manifest gives every image the same noise.
    """
    digest = hashlib.sha256(f"{global_seed}:{image_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)
