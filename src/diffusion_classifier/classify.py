"""Diffusion Classifier on your own model and images, in a few lines.

The pipeline scores prepared datasets; this module is the same engine for a user's
checkpoint (hub id or local directory) and a folder or list of images::

    from diffusion_classifier.classify import ZeroShotClassifier

    clf = ZeroShotClassifier.load("stabilityai/stable-diffusion-2-base",
                                  classes=["cat", "dog"], template="a photo of a {}.",
                                  strategy="25,100:5,1")        # Algorithm 2: 25 steps, then 100 for the best 5
    result = clf.classify_folder("my_images/")                 # or clf.classify([PIL images or paths])
    result.predictions      # one row per image: prediction, passes, mean error per class
    result.pairs            # every evaluated (image, class, timestep, noise) pair and its error

Everything runs through the pipeline's own parts: the adapter registry loads the
model and builds the conditioning table, and the scoring run (:mod:`diffusion_classifier.runs`:
the pipeline's one loop, shard writer and provenance) scores the images into the error
store of ``results/scores``. Pass ``out=`` to keep the shard: it is written as the
images are scored, so a crash or Ctrl-C keeps every image scored so far and the same
call again scores only the rest.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
from PIL import Image

from .artifacts import read_shard
from .artifacts.io import atomic_path
from .compositional.scores import pair_scores
from .config import from_dict
from .engine import DiffusionClassifier
from .models import build_conditioning
from .runs import UNKNOWN_LABEL, UserImages, list_images
from .runs.classifier import detect_adapter, model_image, user_condition
from .runs.user import score_user_images
from .specs import ModelSpec, ScoringSpec, StrategySpec

__all__ = ["ZeroShotClassifier", "ClassifyResult", "parse_strategy", "detect_adapter", "list_images", "model_image",
           "UNKNOWN_LABEL"]

log = logging.getLogger(__name__)


def parse_strategy(strategy: str | dict | StrategySpec | None) -> StrategySpec:
    """A :class:`StrategySpec` from a dict, a JSON object, or the short form ``EVALS[:KEEP][@LOSS]``.

    ``"25"`` is Algorithm 1 (25 timesteps for every class); ``"25,100:5,1"`` is
    Algorithm 2 (25 timesteps for all, then 100 in total for the best 5, then keep 1);
    ``"25@l1"`` ranks by the L1 error.
    """
    if strategy is None:
        strategy = "25"
    if isinstance(strategy, StrategySpec):
        return strategy
    if isinstance(strategy, str) and strategy.lstrip().startswith("{"):
        strategy = json.loads(strategy)
    if isinstance(strategy, dict):
        return from_dict(StrategySpec, strategy, "strategy")
    text, _, loss = str(strategy).partition("@")
    evaluations, _, keep = text.partition(":")
    try:
        evals = [int(v) for v in evaluations.split(",")]
        kept = [int(v) for v in keep.split(",")] if keep else [1] * len(evals)
    except ValueError:
        raise ValueError(f"strategy {strategy!r}: write EVALS[:KEEP][@LOSS] (e.g. '25', '25,100:5,1', "
                         "'25@l1') or a JSON strategy object") from None
    return StrategySpec(evaluations=evals, keep=kept, loss=loss or "l2")


@dataclass(frozen=True)
class ClassifyResult:
    """What :meth:`ZeroShotClassifier.classify` found.

    Attributes:
        predictions: One row per image: ``image_id``, ``prediction`` (class name),
            ``predicted_index``, ``label`` (class name when known, else empty),
            ``correct`` (when the label is known), ``passes``, ``seconds``,
            ``mean_error_<class>``: the image's mean error under each class over
            the pairs evaluated for it, and ``evaluations_<class>``: how many pairs
            that is. An adaptive strategy evaluates the classes it drops early fewer
            times, so their means average fewer (and other) timesteps and the
            prediction need not be the smallest mean: compare means of equal counts.
        pairs: The error store's per-pair table (``image_id, condition, timestep,
            grid_index, stage, error_<objective>``); ``condition`` indexes ``classes``.
        provenance: The shard provenance (model id and weights hash, settings, code).
        shard: The shard directory when one was kept (``out=``), else ``None``.
        skipped: Images not scored (id -> why): unreadable files under ``skip_bad=True``.
    """

    predictions: pd.DataFrame
    pairs: pd.DataFrame
    provenance: dict
    shard: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        """Share of labelled images classified correctly; ``None`` without labels."""
        known = self.predictions[self.predictions["label"] != ""]
        return None if known.empty else float(known["correct"].mean())

    def to_csv(self, path: str | Path) -> Path:
        """Write :attr:`predictions` to ``path`` atomically: the file appears whole or not at all.

        Seconds are rounded to milliseconds and errors to 6 significant digits; the
        column ``skipped`` is empty for a scored image, and a skipped one is a row with
        only its id and the reason there.
        """
        path = Path(path)
        frame = self.predictions.assign(seconds=self.predictions["seconds"].round(3), skipped="")
        if self.skipped:
            rows = pd.DataFrame({"image_id": list(self.skipped), "skipped": list(self.skipped.values())})
            frame = pd.concat([frame, rows], ignore_index=True)
            frame = frame.astype({c: "Int64" for c in frame.columns
                                  if c in ("predicted_index", "passes") or c.startswith("evaluations_")})
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.6g")
        return path


class ZeroShotClassifier:
    """A noise predictor, its conditioning for a list of classes, and a strategy.

    Build one with :meth:`load`; it classifies any number of images with the same
    (timestep, noise) pairs as the pipeline would (noise seeded by image id).
    """

    def __init__(self, predictor, model: ModelSpec, classes: Sequence[str], conditioning, strategy: StrategySpec,
                 scoring: ScoringSpec, prompts: Sequence[str] = ()) -> None:
        self.predictor, self.model, self.classes = predictor, model, list(classes)
        self.strategy, self.scoring, self.prompts = strategy, scoring, list(prompts)
        self.config = strategy.scoring_config(predictor.num_train_timesteps, scoring.batch_size,
                                              device=predictor.device)
        self.engine = DiffusionClassifier(predictor, conditioning, self.config)
        self.transform = model.transform

    @classmethod
    def load(cls, checkpoint: str | Path, classes: Sequence[str], *, template: str | None = None,
             prompts: Sequence[str] | None = None, class_ids: Sequence[int] | None = None,
             adapter: str | None = None, strategy: str | dict | StrategySpec | None = None,
             image: dict | None = None, dtype: str = "float32", device: str = "auto", seed: int = 0,
             batch_size: int = ScoringSpec.batch_size) -> "ZeroShotClassifier":
        """Load ``checkpoint`` (hub id or local directory) and build the conditioning of ``classes``.

        Args:
            classes: Candidate class names, in output order.
            template: Text-conditional models: one ``{}`` for the class name (``"{}"`` if
                neither this nor ``prompts`` is given).
            prompts: Text-conditional models: one explicit prompt per class instead.
            class_ids: Class-conditional models: the model's class id of each class
                (default ``0..len(classes)-1``).
            adapter: Adapter name; by default detected (a text encoder -> ``stable_diffusion``).
            strategy: See :func:`parse_strategy` (default: 25 timesteps for every class).
            image: ``{"size", "channels", "resample"}``, each by default read off the model.
        """
        classes = [str(c) for c in classes]
        adapter = adapter or detect_adapter(checkpoint)
        condition = user_condition(adapter, classes, template=template, prompts=prompts, class_ids=class_ids)
        predictor = ModelSpec(adapter=adapter, dtype=dtype).load(str(checkpoint), device)
        spec = ModelSpec(adapter=adapter, checkpoint=str(checkpoint), dtype=dtype, image=model_image(predictor, image))
        conditioning = build_conditioning(adapter, predictor, condition)
        scoring = ScoringSpec(seed=seed, batch_size=batch_size, device=device)
        return cls(predictor, spec, classes, conditioning, parse_strategy(strategy), scoring, condition.prompts)

    @property
    def passes_per_image(self) -> int:
        return self.config.schedule.passes(len(self.classes))

    def classify_folder(self, folder: str | Path, *, skip_bad: bool = False, **kwargs) -> ClassifyResult:
        """Classify every image under ``folder``; an image in a subfolder named like a class gets that label.

        Unlabelled images (in folders that match no class, or outside class folders) are
        counted in a logged warning. Every image is decoded first: an unreadable one is
        refused by name, or with ``skip_bad=True`` left out and listed in
        :attr:`ClassifyResult.skipped` (and the CSV) with the reason.
        """
        source = UserImages.from_folder(folder, self.classes, self.prompts)
        if source.label_note():
            log.warning("%s", source.label_note())
        return self.classify_source(source.check(skip=skip_bad), **kwargs)

    def classify(self, images: Iterable[Image.Image | str | Path], *, ids: Sequence[str] | None = None,
                 labels: Sequence[str | None] | None = None, out: str | Path | None = None,
                 progress: bool = True) -> ClassifyResult:
        """Classify ``images`` (PIL images or paths); ``out`` keeps the error-store shard there.

        ``ids`` name the images (default: the path, or ``image-00000``...); each id
        seeds the image's noise, so an image gets the same pairs in every run. With
        ``out``, every image is on disk as soon as it is scored (``<out>.partial`` until
        all are), and a rerun after an interruption scores only the images not yet there.
        """
        return self.classify_source(UserImages.build(images, self.classes, ids=ids, labels=labels,
                                                     prompts=self.prompts), out=out, progress=progress)

    def classify_source(self, source: UserImages, *, out: str | Path | None = None,
                        progress: bool = True) -> ClassifyResult:
        """Classify the images of ``source`` (already built and checked); ``out`` as in :meth:`classify`."""
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(out) if out is not None else Path(scratch) / "shard"
            path, seconds = score_user_images(source, target, classifier=self.engine, model=asdict(self.model),
                                              transform=self.transform, scoring_spec=self.scoring,
                                              strategy_spec=self.strategy, progress=progress, scratch=out is None)
            shard = read_shard(path)
        images = shard.images.assign(seconds=shard.images["image_id"].map(seconds))
        return ClassifyResult(self._predictions(images, shard.errors), shard.errors, shard.provenance,
                              Path(out) if out is not None else None, dict(source.skipped))

    def _predictions(self, images: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        means = pair_scores(pairs, self.config.loss).assign(mean_error=lambda f: -f["score"])
        wide = means.pivot(index="image_id", columns="caption", values="mean_error")
        wide = wide.reindex(columns=range(len(self.classes)))
        wide.columns = [f"mean_error_{name}" for name in self.classes]
        wide.index = wide.index.astype(str)
        counts = pairs.assign(image_id=pairs["image_id"].astype(str)).groupby(["image_id", "condition"]).size()
        counts = counts.unstack(fill_value=0).reindex(columns=range(len(self.classes)), fill_value=0)
        counts.columns = [f"evaluations_{name}" for name in self.classes]
        wide = wide.join(counts.astype(int))
        frame = images.assign(image_id=images["image_id"].astype(str))
        known = frame["label"] != UNKNOWN_LABEL
        out = pd.DataFrame({
            "image_id": frame["image_id"],
            "prediction": [self.classes[i] for i in frame["predicted_condition"]],
            "predicted_index": frame["predicted_condition"].astype(int),
            "label": [self.classes[i] if k else "" for i, k in zip(frame["label"], known)],
            "correct": frame["correct"].where(known, pd.NA).astype("boolean"),
            "passes": frame["passes"],
            "seconds": frame["seconds"],
        })
        return out.join(wide, on="image_id").reset_index(drop=True)

