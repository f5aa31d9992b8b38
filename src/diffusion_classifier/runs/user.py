"""A user's own images scored into a shard of the error store (``classify``'s work).

The store is written as the images are scored: every finished image is flushed to the
shard's checkpoint at once (``checkpoint_every=1``), so a crash, an undecodable image,
Ctrl-C or a kill keeps every image scored so far, and a rerun of the same run (same
model, strategy, images and labels: the run key) scores only the rest. The finished
shard appears atomically once every image is in it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import DiffusionClassifier
    from ..specs import ScoringSpec, StrategySpec
    from .inputs import UserImages

__all__ = ["score_user_images"]

log = logging.getLogger(__name__)


def score_user_images(source: UserImages, out: str | Path, *, classifier: DiffusionClassifier, model: dict,
                      transform, scoring_spec: ScoringSpec, strategy_spec: StrategySpec,
                      progress: bool = True, scratch: bool = False) -> tuple[Path, dict[str, float]]:
    """Score every image of ``source`` into the shard ``out``; returns it and each image's seconds.

    Args:
        source: The images, their ids and labels, and the candidate classes.
        out: The shard directory (its checkpoint is ``<out>.partial`` while scoring).
        classifier: The engine with the classes' conditioning table.
        model: The model settings (recorded in the provenance).
        transform: The model's image transform.
        scoring_spec, strategy_spec: Seeds, batch size and checkpoint timing; the strategy.
        progress: Show a progress bar.
        scratch: ``out`` is a scratch directory the caller removes (nothing to resume from).
    """
    from .loop import score_images
    from .store import shard_provenance, shard_writer

    predictor = classifier.predictor
    provenance = shard_provenance(
        dataset=source, split="user", shard=0, num_shards=1, model=model, predictor=predictor,
        config=classifier.config, scoring_spec=scoring_spec, strategy_spec=strategy_spec, transform=transform,
        num_classes=len(source.classes), names={"classes": list(source.classes)},
    )
    writer = shard_writer(out, provenance, scoring_spec, checkpoint_every=1)
    rows = source.rows()
    todo = rows[~rows["image_id"].isin(writer.done)]  # the writer has logged what a previous attempt left
    try:
        path = score_images(source, todo, writer, lambda row: classifier, predictor=predictor, transform=transform,
                            scoring_spec=scoring_spec, strategy_spec=strategy_spec, expected_ids=rows["image_id"],
                            desc="classify", progress=progress)
    except BaseException:
        if not scratch:
            log.warning("%d of %d images are scored and saved in %s.partial; the same call again continues from "
                        "them", len(writer.done), len(rows), out)
        raise
    return path, writer.image_seconds
