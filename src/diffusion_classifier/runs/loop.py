"""The one scoring loop: encode each image, draw its noise, classify it, write its errors.

Classification shards, caption-pair shards and a user's ``classify`` all run it; they
differ in their source of rows and images (:mod:`.inputs`) and in the conditioning each
row is scored against. Checkpoints go through the shard's writer; preemption signals
(SIGTERM, SIGUSR1) save the finished images and the pairs of the images in flight and
exit non-zero (:mod:`~diffusion_classifier.artifacts.preemption`), so a rerun redoes at
most one batch of passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    import pandas as pd

    from ..artifacts import ShardWriter
    from ..artifacts.preemption import InFlight
    from ..engine import DiffusionClassifier
    from ..specs import ScoringSpec, StrategySpec

__all__ = ["batched", "classify_images", "score_images"]


def score_images(dataset, rows, writer: ShardWriter, classifier_of: Callable[[pd.Series], DiffusionClassifier], *,
                 predictor, transform, scoring_spec: ScoringSpec, strategy_spec: StrategySpec, pack: int = 1,
                 labels_of: Sequence[int] | None = None, expected_ids, extra_provenance: dict | None = None,
                 desc: str = "score", progress: bool = True) -> Path:
    """Score ``rows`` of ``dataset`` into ``writer`` and finish the shard.

    Checkpoints as the writer and ``scoring_spec`` ask, continues an image interrupted
    mid-way from its checkpointed pairs, and on SIGTERM / SIGUSR1 saves everything and
    exits non-zero.

    Args:
        dataset: The source the rows' images are read from (``iter_images(rows)``):
            a prepared dataset or :class:`~.inputs.UserImages`.
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
        progress: Show the progress bar.
    """
    from tqdm.auto import tqdm

    from ..artifacts.preemption import InFlight, preemptible
    from ..engine import draw_noise

    device, dtype = predictor.device, predictor.dtype
    in_flight = InFlight(writer, scoring_spec.checkpoint_seconds)
    with writer, preemptible(in_flight):
        images = tqdm(dataset.iter_images(rows), total=len(rows), desc=desc, mininterval=5, disable=not progress)
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
