"""Stages ``score_pairs`` and ``aggregate_pairs``: Winoground-style compositional runs.

``score_pairs`` scores every image of a caption-pair dataset against the two
captions of its example with the same :class:`DiffusionClassifier` as
classification (the two captions are the conditioning table, a one-stage schedule:
every caption sees the same timesteps and one fixed noise per timestep). The
per-pair errors go to the error store, one shard per job, image by image, through
the one scoring loop (:func:`diffusion_classifier.runs.loop.score_images`);
an image's label is its own caption's slot, so "correct" there means the image
prefers its own caption. ``aggregate_pairs`` turns the shards into per-example
text / image / group outcomes and their summary overall and per tag.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..runs.inputs import shard_rows
from ._registry import stage
from .aggregate import check_one_run

__all__ = ["score_pairs", "aggregate_pairs"]

log = logging.getLogger(__name__)


@stage("score-pairs", threads=True)
def score_pairs(
    dataset_dir: str | Path,
    checkpoint: str | Path,
    model: dict,
    strategy: dict,
    scoring: dict,
    prompts_dir: str | Path,
    output_dir: str | Path,
    *,
    shard: int = 0,
    num_shards: int = 1,
    split: str = "test",
    names: dict | None = None,
) -> Path:
    """Score both images of every example of one shard against the example's two captions."""
    from ..data import load_dataset
    from ..data.pairs import load_examples
    from ..engine import DiffusionClassifier
    from ..models import adapter_uses_prompts
    from ..models.prompts import read_prompt_table
    from ..runs.loop import score_images
    from ..runs.store import shard_provenance, shard_writer
    from ..specs import ModelSpec, ScoringSpec, StrategySpec, from_dict

    model_spec = from_dict(ModelSpec, model, "model")
    strategy_spec = from_dict(StrategySpec, strategy, "strategy")
    scoring_spec = from_dict(ScoringSpec, scoring, "scoring")
    if not adapter_uses_prompts(model_spec.adapter):
        raise ValueError(f"compositional runs need a text-conditional model, not adapter {model_spec.adapter!r}")
    if len(strategy_spec.evaluations) != 1:
        raise ValueError(
            f"compositional runs score both captions at the same timesteps: give a one-stage strategy "
            f"(evaluations: [n], keep: [1]), not evaluations={strategy_spec.evaluations}"
        )
    dataset = load_dataset(dataset_dir)
    examples = shard_rows(load_examples(dataset, split), shard, num_shards, key="id")
    manifest = dataset.manifest.set_index("image_id", drop=False)

    predictor = model_spec.load(checkpoint, scoring_spec.device)
    table = read_prompt_table(prompts_dir, predictor.device, predictor.dtype)
    captions = table.for_examples(predictor.weights_hash())
    missing = sorted(set(examples["id"]) - set(captions))
    if missing:
        raise ValueError(f"prompt table {prompts_dir} has no captions for example(s) {missing[:3]}: "
                         "re-run prepare_prompts for this dataset and model")
    config = strategy_spec.scoring_config(predictor.num_train_timesteps, scoring_spec.batch_size,
                                          scoring_spec.accelerations, predictor.device)

    provenance = shard_provenance(
        dataset=dataset, split=split, shard=shard, num_shards=num_shards, model=model, predictor=predictor,
        config=config, scoring_spec=scoring_spec, strategy_spec=strategy_spec, transform=model_spec.transform,
        num_classes=2, names=names, task="caption_pairs",
        prompts={"table": str(prompts_dir), "embeddings_sha256": table.provenance.get("embeddings_sha256")},
    )
    writer = shard_writer(output_dir, provenance, scoring_spec)
    # Both images of each example, in example order; an image's label is its own caption's slot.
    images = [(example.id, slot, getattr(example, f"image_{slot}"))
              for example in examples.itertuples(index=False) for slot in (0, 1)]
    for example_id, slot, image_id in images:
        if int(manifest.loc[image_id, "label"]) != slot:
            raise ValueError(f"{dataset.root}: image {image_id!r} is image_{slot} of example {example_id!r} "
                             f"but its manifest label is {manifest.loc[image_id, 'label']}")
    todo = [(example_id, image_id) for example_id, _, image_id in images if image_id not in writer.done]
    rows = manifest.loc[[image_id for _, image_id in todo]].reset_index(drop=True)
    rows["example_id"] = [example_id for example_id, _ in todo]
    log.info("scoring %d images of %d examples (%d already done), %d passes per image",
             len(todo), len(examples), 2 * len(examples) - len(todo), provenance["passes_per_image_planned"])

    classifiers: dict[str, DiffusionClassifier] = {}

    def example_classifier(row):  # an image's conditioning table: its example's two captions, built once
        example_id = row["example_id"]
        if example_id not in classifiers:
            classifiers[example_id] = DiffusionClassifier(predictor, captions[example_id], config)
        return classifiers[example_id]

    return score_images(dataset, rows, writer, example_classifier, predictor=predictor,
                        transform=model_spec.transform, scoring_spec=scoring_spec, strategy_spec=strategy_spec,
                        expected_ids=[image_id for _, _, image_id in images],
                        extra_provenance={"num_examples": len(examples)}, desc=f"score pairs {Path(output_dir).name}")


@stage("aggregate-pairs")
def aggregate_pairs(
    shard_dirs: list[str | Path],
    dataset_dir: str | Path,
    output_examples: str | Path,
    output_summary: str | Path,
    *,
    split: str = "test",
    group_by: tuple[str, ...] = ("collapsed_tag",),
    names: dict | None = None,
) -> dict:
    """Per-example outcomes (Parquet) and text / image / group scores (JSON) of one run."""
    import numpy as np
    import pandas as pd

    from ..artifacts import ERROR_PREFIX, ShardError, write_frame, read_errors, write_json
    from ..compositional import CHANCE, example_scores, pair_scores, summarise_examples
    from ..data import load_dataset
    from ..data.pairs import load_examples

    shard_dirs = [Path(p) for p in shard_dirs]
    dataset = load_dataset(dataset_dir)
    provenances = check_one_run(shard_dirs, dataset)
    loss = provenances[0]["settings"]["scoring_config"]["loss"]
    errors = read_errors(shard_dirs)
    if errors.empty:
        raise ValueError(f"no scored images in {shard_dirs}: every shard is empty")
    examples = load_examples(dataset, split)
    expected = set(examples["image_0"]) | set(examples["image_1"])
    found = set(errors["image_id"])
    if found != expected:
        raise ShardError(f"the shards {shard_dirs[0].parent}/... hold {len(found)} images but split {split!r} of "
                         f"{dataset.root} has {len(expected)} (missing {sorted(expected - found)[:3]}, foreign "
                         f"{sorted(found - expected)[:3]}): rescore the run")
    bad = ~np.isfinite(errors[ERROR_PREFIX + loss].to_numpy())
    if bad.any():
        raise ShardError(f"non-finite {loss} error for image {errors['image_id'].iloc[np.flatnonzero(bad)[0]]!r} "
                         f"in {shard_dirs[0].parent}: refusing to rank on it; rescore the run")
    outcomes = example_scores(examples, pair_scores(errors, loss))
    summary = {
        **(names or {}),
        "loss": loss,
        "chance": CHANCE,
        "subsets": summarise_examples(outcomes, tuple(group_by)),
        "scoring_config": provenances[0]["settings"]["scoring_config"],
        "passes_per_image": provenances[0]["passes_per_image_planned"],
        "model_id": provenances[0]["model_id"],
        "weights_sha256": provenances[0]["weights_sha256"],
        "shards": [{"path": str(p), "config_hash": v["config_hash"], "code_version": v["code_version"],
                    "device": v["device"], "num_images": v.get("num_images")}
                   for p, v in zip(shard_dirs, provenances)],
    }
    write_frame(pd.DataFrame(outcomes), output_examples)
    write_json(output_summary, summary)
    return summary
