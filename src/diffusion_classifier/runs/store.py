"""A run's shard in the error store: what it records about itself, and its writer.

The provenance's ``run_key`` decides whether an interrupted run's checkpoint may be
resumed (:class:`~diffusion_classifier.artifacts.ShardWriter`), so the pipeline's
shards and a user's ``classify`` store are described by the same function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifacts import ShardWriter
    from ..specs import ScoringSpec, StrategySpec

__all__ = ["shard_provenance", "shard_writer"]


def shard_provenance(
    *,
    dataset,
    split: str,
    shard: int,
    num_shards: int,
    model: dict,
    predictor,
    config,
    scoring_spec: ScoringSpec,
    strategy_spec: StrategySpec,
    transform,
    num_classes: int,
    names: dict | None = None,
    prompts: dict | None = None,
    max_images: int | None = None,
    **extra,
) -> dict:
    """What a scoring shard records about itself: its settings, their hashes, the code.

    ``settings`` is everything that determines the stored errors: besides the run's
    settings and the weights' sha256, the dataset's content (``dataset_sha256``: its
    manifest, which holds every image's sha256, and class table) and the code that
    computes errors (``engine_code_sha256``: the sources of the engine and model
    adapters, see :func:`~diffusion_classifier.artifacts.engine_code_sha256`).
    ``run_key`` hashes them without the dataset's free-form metadata and is what a
    resumed checkpoint must match (:class:`~diffusion_classifier.artifacts.ShardWriter`);
    ``config_hash`` hashes all of them. ``extra`` adds stage-specific fields (the task,
    the candidate labels).
    """
    from .. import numerics
    from ..artifacts import code_version, config_hash, engine_code_sha256, environment

    settings = {
        "dataset": dataset.metadata,
        "dataset_sha256": dataset.content_sha256,
        "engine_code_sha256": engine_code_sha256(),
        "split": split,
        "shard": shard,
        "num_shards": num_shards,
        "model": model,
        "weights_sha256": predictor.weights_hash(),
        "scoring_config": config.to_dict(),
        "seed": scoring_spec.seed,
        "share_noise_across_images": scoring_spec.shares_noise(strategy_spec),
        # the released noise's seed (absent otherwise, so other runs keep their keys)
        **({"noise_seed": strategy_spec.noise_seed} if strategy_spec.noise_seed is not None else {}),
        "transform": transform.to_dict(),
        "numerics": numerics.state(),  # a checkpoint made with other kernels is never resumed
    }
    if prompts is not None:
        settings["prompts"] = prompts
    if max_images is not None:
        settings["max_images"] = max_images
    return {
        **(names or {}),
        **extra,
        "model_id": predictor.model_id,
        "weights_sha256": predictor.weights_hash(),
        "num_classes": num_classes,
        "passes_per_image_planned": config.schedule.passes(num_classes),
        "run_key": config_hash({k: v for k, v in settings.items() if k != "dataset"}),
        "config_hash": config_hash(settings),
        "settings": settings,
        "code_version": code_version(),
        "environment": environment(),
        "device": str(predictor.device),
        "dtype": str(predictor.dtype).removeprefix("torch."),
    }


def shard_writer(out_dir: str | Path, provenance: dict, scoring_spec: ScoringSpec,
                 checkpoint_every: int | None = None) -> ShardWriter:
    """The shard's writer, checkpointing as the ``scoring:`` section asks
    (``checkpoint_every`` overrides its image count: ``classify`` flushes every image)."""
    from ..artifacts import ShardWriter

    every = scoring_spec.checkpoint_every if checkpoint_every is None else checkpoint_every
    return ShardWriter(out_dir, provenance, checkpoint_every=every, checkpoint_seconds=scoring_spec.checkpoint_seconds)
