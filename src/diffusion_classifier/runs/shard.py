"""One shard of a prepared dataset, scored end to end (the ``score-shard`` stage's work).

Loads the model, builds the run's classifier and conditioning, describes the shard
(:func:`.store.shard_provenance`), resumes what an interrupted attempt left, and runs
the loop over the images not yet done.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..specs import ModelSpec, ScoringSpec, StrategySpec

__all__ = ["score_dataset_rows"]

log = logging.getLogger(__name__)


def score_dataset_rows(
    dataset,
    rows: pd.DataFrame,
    checkpoint: str | Path,
    output_dir: str | Path,
    *,
    model: dict,
    model_spec: ModelSpec,
    strategy_spec: StrategySpec,
    scoring_spec: ScoringSpec,
    split: str,
    shard: int,
    num_shards: int,
    names: dict | None = None,
    prompts_dir: str | Path | None = None,
    prompt: dict | None = None,
    max_images: int | None = None,
) -> Path:
    """Score ``rows`` (one shard of ``split``) of a prepared ``dataset`` into ``output_dir``.

    Resumes from ``<output_dir>.partial`` when a previous attempt of the same run was
    interrupted. A sequential strategy's calibration is read and checked before any pass.

    Args:
        model: The ``model:`` section as given (recorded in the provenance as is).
        model_spec, strategy_spec, scoring_spec: The parsed sections.
        prompts_dir, prompt: A text-conditional model's prompt table, or a template to
            encode here (see :func:`.classifier.run_conditioning`).
        max_images: The split's first images only (a calibration set), recorded.
    """
    from ..engine import DiffusionClassifier
    from ..engine.sequential import point_blocks
    from .classifier import candidate_labels, run_conditioning
    from .loop import score_images
    from .store import shard_provenance, shard_writer

    transform = model_spec.transform
    predictor = model_spec.load(checkpoint, scoring_spec.device)
    config = strategy_spec.scoring_config(predictor.num_train_timesteps, scoring_spec.batch_size,
                                          scoring_spec.accelerations, predictor.device)
    if config.sequential is not None:  # a conditional test's calibration: read and checked before any pass
        calibration = config.sequential.load_calibration()
        point_blocks(config.schedule.grid, config.sequential, calibration)
        if calibration is not None:
            calibration.refuse_overlap(rows["image_id"], f"calibration file {config.sequential.calibration}")
    conditioning, prompt_source = run_conditioning(model_spec.adapter, predictor, dataset, model_spec, prompts_dir,
                                                   prompt)
    classifier = DiffusionClassifier(predictor, conditioning, config)
    labels_of = candidate_labels(dataset, model_spec.adapter)

    provenance = shard_provenance(
        dataset=dataset, split=split, shard=shard, num_shards=num_shards, model=model, predictor=predictor,
        config=config, scoring_spec=scoring_spec, strategy_spec=strategy_spec, transform=transform,
        num_classes=classifier.num_classes, names=names, prompts=prompt_source,
        candidate_labels=list(labels_of), max_images=max_images,
    )
    writer = shard_writer(output_dir, provenance, scoring_spec)
    todo = rows[~rows["image_id"].isin(writer.done)]
    log.info("scoring %d images (%d already done) with %s, %d passes per image",
             len(todo), len(rows) - len(todo), predictor.model_id, provenance["passes_per_image_planned"])
    return score_images(dataset, todo, writer, lambda row: classifier, predictor=predictor, transform=transform,
                        scoring_spec=scoring_spec, strategy_spec=strategy_spec, pack=scoring_spec.pack_images,
                        labels_of=labels_of, expected_ids=rows["image_id"], desc=f"score {Path(output_dir).name}")
