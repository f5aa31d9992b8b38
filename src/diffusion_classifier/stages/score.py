"""Stage ``score_shard``: score one shard of one dataset with one model and strategy."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..artifacts import ShardWriter, code_version, config_hash, environment
from ..data import load_dataset
from ..engine import DiffusionClassifier, draw_noise, image_seed
from ..models import ConditionSpec, build_conditioning, load_predictor
from ..specs import ModelSpec, ScoringSpec, StrategySpec, from_dict, resolve_device, resolve_dtype

__all__ = ["score_shard", "shard_rows"]

log = logging.getLogger(__name__)


def shard_rows(rows, shard: int, num_shards: int):
    """Rows of shard ``shard`` of ``num_shards``: every ``num_shards``-th image by id.

    Interleaving keeps class balance across shards; sorting by id makes the split
    independent of manifest order.
    """
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard {shard} is outside 0..{num_shards - 1}")
    ordered = rows.sort_values("image_id", kind="stable").reset_index(drop=True)
    return ordered.iloc[shard::num_shards].reset_index(drop=True)


def condition_spec(dataset, model: ModelSpec) -> ConditionSpec:
    """Candidate classes of a dataset as the model's adapter needs them.

    Class-conditional models score every model id of the dataset's class map (e.g.
    ObjectNet's 125 ImageNet ids for its 113 classes); a candidate's label is
    ``dataset.class_map.label_of(candidate)``.
    """
    class_map = dataset.class_map
    names = tuple(dataset.classes[label] for label in class_map.candidate_labels)
    return ConditionSpec(class_names=names, class_ids=class_map.candidates)


def score_shard(
    dataset_dir: str | Path,
    checkpoint: str | Path,
    model: dict,
    strategy: dict,
    scoring: dict,
    out_dir: str | Path,
    *,
    shard: int = 0,
    num_shards: int = 1,
    split: str = "test",
    names: dict | None = None,
) -> Path:
    """Score every image of one shard and write the shard's error store.

    Resumes from ``<out_dir>.partial`` when a previous attempt of the same
    configuration was interrupted.
    """
    model_spec = from_dict(ModelSpec, model, "model")
    strategy_spec = from_dict(StrategySpec, strategy, "strategy")
    scoring_spec = from_dict(ScoringSpec, scoring, "scoring")
    dataset = load_dataset(dataset_dir)
    rows = shard_rows(dataset.split(split), shard, num_shards)
    transform = model_spec.transform

    device = resolve_device(scoring_spec.device)
    dtype = resolve_dtype(model_spec.dtype, device)
    predictor = load_predictor(model_spec.adapter, checkpoint, device=device, dtype=dtype)
    config = strategy_spec.scoring_config(predictor.num_train_timesteps, scoring_spec.batch_size)
    conditioning = build_conditioning(model_spec.adapter, predictor, condition_spec(dataset, model_spec))
    classifier = DiffusionClassifier(predictor, conditioning, config)

    settings = {
        "dataset": dataset.metadata,
        "split": split,
        "shard": shard,
        "num_shards": num_shards,
        "model": model,
        "weights_sha256": predictor.weights_hash(),
        "scoring_config": config.to_dict(),
        "seed": scoring_spec.seed,
        "share_noise_across_images": scoring_spec.share_noise_across_images,
        "transform": transform.to_dict(),
    }
    provenance = {
        **(names or {}),
        "model_id": predictor.model_id,
        "weights_sha256": predictor.weights_hash(),
        "num_classes": classifier.num_classes,
        "candidate_labels": list(dataset.class_map.candidate_labels),
        "passes_per_image_planned": config.schedule.passes(classifier.num_classes),
        "run_key": config_hash({k: v for k, v in settings.items() if k != "dataset"}),
        "config_hash": config_hash(settings),
        "settings": settings,
        "code_version": code_version(),
        "environment": environment(),
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    writer = ShardWriter(out_dir, provenance, checkpoint_every=scoring_spec.checkpoint_every)
    todo = rows[~rows["image_id"].isin(writer.done)]
    log.info("scoring %d images (%d already done) with %s, %d passes per image",
             len(todo), len(rows) - len(todo), predictor.model_id, provenance["passes_per_image_planned"])

    start = time.perf_counter()
    for row, image in tqdm(dataset.iter_images(todo), total=len(todo), desc=f"score {Path(out_dir).name}",
                           mininterval=5):
        pixels = transform(image).unsqueeze(0)
        latent = predictor.encode(pixels.to(device, dtype))[0]
        seed = scoring_spec.seed if scoring_spec.share_noise_across_images else image_seed(
            scoring_spec.seed, row["image_id"])
        noise = draw_noise(seed, config.schedule.num_noise, tuple(latent.shape))
        scores = classifier.classify(latent, noise)
        writer.add(row["image_id"], int(row["label"]), seed, scores,
                   predicted_label=dataset.class_map.label_of(scores.prediction))
    return writer.finalize({"scoring_seconds_this_attempt": time.perf_counter() - start})
