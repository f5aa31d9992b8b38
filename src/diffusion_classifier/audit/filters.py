"""The LAION filters computed by a head on the image's CLIP embedding (paper Table 2).

Names, columns, weight files and pass decisions, without torch: Table 2's rule reads
this list to name its columns and must not load the heads to do so. The head loaders
(``aesthetic``, ``nsfw``: torch modules) are imported when a head is loaded
(:meth:`EmbeddingFilter.load`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .weights import AESTHETIC_L14, NSFW_L14

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._heads import LoadedHead
    from .config import AuditConfig

__all__ = ["EmbeddingFilter", "EMBEDDING_FILTERS"]


@dataclass(frozen=True)
class EmbeddingFilter:
    """A filter computed by a head on the image embedding.

    Attributes:
        name: Registry key, also the key of its head in ``score_manifest(heads=...)``.
        score_column: Column holding the head's output.
        pass_column: Column holding the pass/fail decision.
        weights: Key of its weight file in the weights registry.
        loader: ``"module:function"`` of ``function(path, spec=None, device=...) -> LoadedHead``.
        passes: ``passes(scores, config) -> bool array``.
    """

    name: str
    score_column: str
    pass_column: str
    weights: str
    loader: str
    passes: Callable[[np.ndarray, AuditConfig], np.ndarray]

    def load(self, path, **kwargs) -> LoadedHead:
        """The head from its weight file at ``path`` (``kwargs``: ``spec``, ``device``)."""
        module, function = self.loader.split(":")
        return getattr(importlib.import_module(module), function)(path, **kwargs)


EMBEDDING_FILTERS: dict[str, EmbeddingFilter] = {
    f.name: f
    for f in (
        EmbeddingFilter(
            name="aesthetic",
            score_column="aesthetic",
            pass_column="passes_aesthetic",
            weights=AESTHETIC_L14,
            loader="diffusion_classifier.audit.aesthetic:load_aesthetic_head",
            passes=lambda s, c: s >= c.aesthetic_threshold,
        ),
        EmbeddingFilter(
            name="nsfw",
            score_column="punsafe",
            pass_column="passes_nsfw",
            weights=NSFW_L14,
            loader="diffusion_classifier.audit.nsfw:load_nsfw_head",
            passes=lambda s, c: s < c.punsafe_threshold,
        ),
    )
}
