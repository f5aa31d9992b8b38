"""Stage ``score_shard``: score one shard of one dataset with one model and strategy.

The scoring itself lives in :mod:`diffusion_classifier.runs` (one loop, one shard
writer, one provenance, shared with ``score-pairs`` and ``classify``); this module
reads the stage's arguments and hands them over.
"""

from __future__ import annotations

from pathlib import Path

from ..runs.inputs import shard_rows
from ._registry import stage

__all__ = ["score_calibration", "score_shard", "shard_rows"]


@stage("score-shard", threads=True)
def score_shard(
    dataset_dir: str | Path,
    checkpoint: str | Path,
    model: dict,
    strategy: dict,
    scoring: dict,
    output_dir: str | Path,
    *,
    shard: int = 0,
    num_shards: int = 1,
    split: str = "test",
    names: dict | None = None,
    prompts_dir: str | Path | None = None,
    prompt: dict | None = None,
    max_images: int | None = None,
    calibration: str | Path | None = None,
) -> Path:
    """Score every image of one shard and write the shard's error store.

    Resumes from ``<output_dir>.partial`` when a previous attempt of the same
    configuration was interrupted. Text-conditional models take their
    conditioning from ``prompts_dir`` (a prompt table folder) or, without one, encode
    ``prompt`` (``{"template": ..., "class_names": ...}``) here.

    Args:
        max_images: Only the split's first images by id (a calibration set), then sharded.
        calibration: The sequential test's calibration file (``sequential.calibration``).
    """
    from ..data import load_dataset
    from ..errors import UserError
    from ..runs.shard import score_dataset_rows
    from ..specs import ModelSpec, ScoringSpec, StrategySpec, from_dict

    if calibration is not None:
        if not strategy.get("sequential"):
            raise UserError(f"--calibration {calibration}: the strategy has no sequential test to calibrate")
        strategy = {**strategy, "sequential": {**strategy["sequential"], "calibration": str(calibration)}}
    model_spec = from_dict(ModelSpec, model, "model")
    strategy_spec = from_dict(StrategySpec, strategy, "strategy")
    scoring_spec = from_dict(ScoringSpec, scoring, "scoring")
    dataset = load_dataset(dataset_dir)
    try:
        rows = shard_rows(dataset.split(split), shard, num_shards, first=max_images)
    except ValueError as exc:
        raise UserError(f"--max-images {max_images}, split {split!r} of {dataset_dir}: {exc}") from None
    return score_dataset_rows(dataset, rows, checkpoint, output_dir, model=model, model_spec=model_spec,
                              strategy_spec=strategy_spec, scoring_spec=scoring_spec, split=split, shard=shard,
                              num_shards=num_shards, names=names, prompts_dir=prompts_dir, prompt=prompt,
                              max_images=max_images)


@stage("score-calibration", threads=True)
def score_calibration(
    dataset_dir: str | Path,
    checkpoint: str | Path,
    model: dict,
    strategy: dict,
    scoring: dict,
    output_dir: str | Path,
    *,
    split: str,
    images: int,
    names: dict | None = None,
    prompts_dir: str | Path | None = None,
) -> Path:
    """A sequential run's calibration set: the first ``images`` images of ``split`` by id,
    scored at one stage on the run's grid (``strategy`` without its sequential test), one shard.
    ``fit-calibration`` turns it into the file the run's ``score-shard --calibration`` reads.

    Args:
        images: How many images (the first by id) the calibration set holds.
    """
    one_stage = {key: value for key, value in strategy.items() if key != "sequential"}
    return score_shard(dataset_dir, checkpoint, model, one_stage, scoring, output_dir, split=split, names=names,
                       prompts_dir=prompts_dir, max_images=images)
