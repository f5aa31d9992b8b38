"""Stage ``score_shard``: score one shard of one dataset with one model and strategy."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd

    from ..artifacts import ShardWriter
    from ..artifacts.preemption import InFlight
    from ..engine import DiffusionClassifier
    from ..models import ConditionSpec
    from ..models.prompts import PromptSpec
    from ..specs import ModelSpec, ScoringSpec, StrategySpec

__all__ = ["candidate_labels", "classify_images", "run_conditioning", "score_calibration", "score_images", "score_shard",
           "shard_provenance", "shard_rows", "shard_writer"]

log = logging.getLogger(__name__)


def shard_rows(rows, shard: int, num_shards: int, key: str = "image_id", first: int | None = None):
    """Rows of shard ``shard`` of ``num_shards``: every ``num_shards``-th row by ``key``
    (an image's id; a caption pair's example id), of the ``first`` rows only when given.

    Interleaving keeps class balance across shards; sorting by id makes the split
    independent of manifest order.
    """
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard {shard} is outside 0..{num_shards - 1}")
    if first is not None and len(rows) < first:
        raise ValueError(f"{first} rows asked for, but there are {len(rows)}")
    ordered = rows.sort_values(key, kind="stable").reset_index(drop=True).iloc[:first]
    return ordered.iloc[shard::num_shards].reset_index(drop=True)


def candidate_labels(dataset, adapter: str) -> tuple[int, ...]:
    """The label class of each candidate condition, in conditioning-table order.

    Class-conditional models score every model id of the dataset's class map (e.g.
    ObjectNet's 125 ImageNet ids for its 113 classes); text-conditional models score
    one prompt per label class and ignore the ids.
    """
    from ..models import adapter_uses_prompts

    if adapter_uses_prompts(adapter):
        return tuple(range(len(dataset.classes)))
    return dataset.class_map.candidate_labels


def condition_spec(dataset, model: ModelSpec, prompt: PromptSpec | None = None) -> ConditionSpec:
    """Candidate classes of a dataset as the model's adapter needs them."""
    from ..models import ConditionSpec, adapter_uses_prompts
    from ..models.prompts import class_prompts

    if adapter_uses_prompts(model.adapter):
        names = tuple(dataset.classes)
        prompts = tuple(class_prompts(dataset.class_table, prompt)["prompt"]) if prompt is not None else ()
        return ConditionSpec(class_names=names, class_ids=tuple(range(len(names))), prompts=prompts)
    class_map = dataset.class_map
    names = tuple(dataset.classes[label] for label in class_map.candidate_labels)
    return ConditionSpec(class_names=names, class_ids=class_map.candidates)


def run_conditioning(adapter: str, predictor, dataset, model_spec: ModelSpec, prompts, prompt) -> tuple:
    """The conditioning table and what it was built from (recorded in provenance).

    A text-conditional model reads the precomputed prompt table when one is given
    (the workflow always gives it) and otherwise encodes the template's prompts.
    """
    from ..models import adapter_uses_prompts, build_conditioning
    from ..models.prompts import PromptSpec, read_prompt_table
    from ..specs import from_dict

    if prompts is not None:
        if not adapter_uses_prompts(adapter):
            raise ValueError(f"a prompt table was given but adapter {adapter!r} is not text-conditional")
        table = read_prompt_table(prompts, predictor.device, predictor.dtype)
        source = {"table": str(prompts), "embeddings_sha256": table.provenance.get("embeddings_sha256"),
                  "templates": table.provenance.get("templates")}
        return table.for_classes(dataset.classes, predictor.weights_hash()), source
    prompt_spec = from_dict(PromptSpec, prompt, "prompt") if prompt else None
    if adapter_uses_prompts(adapter) and prompt_spec is None:
        raise ValueError(
            f"adapter {adapter!r} is text-conditional: give the prompt table (--prompts, written by "
            "prepare-prompts) or a prompt template (--prompt)"
        )
    spec = condition_spec(dataset, model_spec, prompt_spec)
    source = {"template": prompt_spec.template} if prompt_spec is not None else None
    return build_conditioning(adapter, predictor, spec), source


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
    from ..engine import DiffusionClassifier
    from ..engine.sequential import point_blocks
    from ..errors import UserError
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
    transform = model_spec.transform

    predictor = model_spec.load(checkpoint, scoring_spec.device)
    config = strategy_spec.scoring_config(predictor.num_train_timesteps, scoring_spec.batch_size,
                                          scoring_spec.accelerations, predictor.device)
    if config.sequential is not None:  # a conditional test's calibration: read and checked before any pass
        point_blocks(config.schedule.grid, config.sequential, config.sequential.load_calibration())
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
    ``fit-calibration`` turns it into the file the run's ``score-shard --calibration`` reads."""
    one_stage = {key: value for key, value in strategy.items() if key != "sequential"}
    return score_shard(dataset_dir, checkpoint, model, one_stage, scoring, output_dir, split=split, names=names,
                       prompts_dir=prompts_dir, max_images=images)


def score_images(dataset, rows, writer: ShardWriter, classifier_of: Callable[[pd.Series], DiffusionClassifier], *,
                 predictor, transform, scoring_spec: ScoringSpec, strategy_spec: StrategySpec, pack: int = 1,
                 labels_of: Sequence[int] | None = None, expected_ids, extra_provenance: dict | None = None,
                 desc: str = "score") -> Path:
    """The one scoring loop: encode each image, draw its noise, classify it, write its errors.

    Classification shards and caption-pair shards both run it; they differ in the rows
    and in the conditioning each row is scored against. Checkpoints as the writer and
    ``scoring_spec`` ask, continues an image interrupted mid-way from its checkpointed
    pairs, and on SIGTERM / SIGUSR1 saves everything and exits non-zero.

    Args:
        dataset: The prepared dataset the rows' images are read from.
        rows: Manifest rows (``image_id``, ``label``, ...) still to score, in order.
        writer: The shard's writer; ``finalize`` is its last call.
        classifier_of: The classifier that scores a row (its conditioning table);
            with ``pack > 1`` the rows of a pack must share one.
        predictor, transform: The model and the image transform it needs.
        scoring_spec, strategy_spec: The ``scoring:`` section and the run's strategy (noise seeds).
        pack: Images whose passes are packed into shared batches.
        labels_of: The label class of each candidate condition (stored with the prediction).
        expected_ids: Every image the finished shard must hold.
        extra_provenance: Added to the shard's provenance when it is finished.
        desc: The progress bar's label.
    """
    from tqdm.auto import tqdm

    from ..artifacts.preemption import InFlight, preemptible
    from ..engine import draw_noise

    device, dtype = predictor.device, predictor.dtype
    in_flight = InFlight(writer, scoring_spec.checkpoint_seconds)
    with writer, preemptible(in_flight):
        images = tqdm(dataset.iter_images(rows), total=len(rows), desc=desc, mininterval=5)
        for group in batched(images, pack):
            classifier = classifier_of(group[0][0])
            inputs, seeds = [], []
            for row, image in group:
                pixels = transform(image).unsqueeze(0)
                latent = predictor.encode(pixels.to(device, dtype))[0]
                seeds.append(scoring_spec.noise_seed(row["image_id"], strategy_spec))
                inputs.append((latent, draw_noise(seeds[-1], classifier.config.schedule.num_noise,
                                                  tuple(latent.shape))))
            ids = [row["image_id"] for row, _ in group]
            for (row, _), seed, scores in zip(group, seeds, classify_images(classifier, ids, inputs, in_flight)):
                writer.add(row["image_id"], int(row["label"]), seed, scores,
                           predicted_label=None if labels_of is None else labels_of[scores.prediction])
        in_flight.track({})  # every image is added: a signal during finalize must not recreate the partial
        return writer.finalize(extra_provenance, expected_ids=expected_ids)  # the writer records the time apart


def shard_writer(out_dir: str | Path, provenance: dict, scoring_spec: ScoringSpec) -> ShardWriter:
    """The shard's writer, checkpointing as the ``scoring:`` section asks."""
    from ..artifacts import ShardWriter

    return ShardWriter(out_dir, provenance, checkpoint_every=scoring_spec.checkpoint_every,
                       checkpoint_seconds=scoring_spec.checkpoint_seconds)


def classify_images(classifier: DiffusionClassifier, image_ids: list[str], inputs: list[tuple],
                    in_flight: InFlight | None = None) -> list:
    """Classify ``(latent, noise)`` inputs, batches packed across them when there are several.

    With ``in_flight``, each image continues from its checkpointed pairs (if a previous
    attempt was interrupted in it) and its pairs are checkpointed as they are evaluated.
    A non-finite-error refusal names the image.
    """
    from ..engine import NonFiniteErrorsError
    from ..engine.progress import PairLog

    logs = None
    if in_flight is not None:
        logs = [PairLog(in_flight.resume(image_id), on_batch=in_flight.tick) for image_id in image_ids]
        in_flight.track({image_id: log.state for image_id, log in zip(image_ids, logs)})
    try:
        if len(inputs) == 1:
            return [classifier.classify(*inputs[0], logs[0] if logs else None)]
        return classifier.classify_packed(inputs, logs)
    except NonFiniteErrorsError as exc:
        raise NonFiniteErrorsError(f"image {image_ids[getattr(exc, 'input', 0)]!r}: {exc}") from None


def batched(items, size: int):
    """Lists of ``size`` consecutive items (the last may be shorter)."""
    group = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group
