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
model and builds the conditioning table, :class:`~diffusion_classifier.engine.DiffusionClassifier`
scores, and the pairs are written by :class:`~diffusion_classifier.artifacts.ShardWriter`
in the error-store format of ``results/scores`` (pass ``out=`` to keep the shard).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Sequence

import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from .artifacts import ShardWriter, file_sha256, read_shard
from .compositional.scores import pair_scores
from .engine import DiffusionClassifier, draw_noise
from .models import ConditionSpec, adapter_uses_prompts, build_conditioning
from .models.loading import resolve_checkpoint
from .models.prompts import PromptSpec, class_prompts
from .config import from_dict
from .specs import ModelSpec, ScoringSpec, StrategySpec
from .stages.score import shard_provenance

__all__ = ["ZeroShotClassifier", "ClassifyResult", "parse_strategy", "detect_adapter", "list_images", "model_image",
           "UNKNOWN_LABEL"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
UNKNOWN_LABEL = -1  # the error store's label of an image whose true class is not known


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


def detect_adapter(checkpoint: str | Path) -> str:
    """``stable_diffusion`` when the checkpoint has a text encoder, else ``class_conditional``."""
    root = resolve_checkpoint(checkpoint, weights=False)
    return "stable_diffusion" if (root / "text_encoder").is_dir() else "class_conditional"


def model_image(predictor, image: dict | None = None) -> dict:
    """The input size and channels the loaded model expects (its config, bicubic), overridden by ``image``."""
    image = dict(image or {})
    network = getattr(predictor, "unet", None)
    network = network if network is not None else getattr(predictor, "network", None)
    config = getattr(network, "config", None)
    size = getattr(config, "sample_size", None)
    vae = getattr(predictor, "vae", None)
    if size is None or config is None:
        if "size" not in image:
            raise ValueError(f"cannot tell the input size of {predictor.model_id!r}: give the image size")
        return {"channels": 3, "resample": "bicubic", **image}
    size = size[0] if isinstance(size, (list, tuple)) else int(size)
    if vae is not None:
        size, channels = size * 2 ** (len(vae.config.block_out_channels) - 1), 3
    else:
        channels = int(config.in_channels)
    return {"size": size, "channels": channels, "resample": "bicubic", **image}


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under ``folder`` (recursively), in sorted order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"{folder} holds no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    return paths


def _content_sha256(images: list, ids: list[str], labels: list) -> str:
    """sha256 over every image's id, label and bytes (file bytes, or a PIL image's pixels and mode)."""
    digest = hashlib.sha256()
    for image, image_id, label in zip(images, ids, labels):
        content = (hashlib.sha256(image.tobytes() + image.mode.encode()).hexdigest()
                   if isinstance(image, Image.Image) else file_sha256(image))
        digest.update(f"{image_id}\0{label}\0{content}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ClassifyResult:
    """What :meth:`ZeroShotClassifier.classify` found.

    Attributes:
        predictions: One row per image: ``image_id``, ``prediction`` (class name),
            ``predicted_index``, ``label`` (class name when known, else empty),
            ``correct`` (when the label is known), ``passes``, ``seconds`` and
            ``mean_error_<class>``: the image's mean error under each class over
            the pairs evaluated for it (fewer for classes an adaptive strategy dropped).
        pairs: The error store's per-pair table (``image_id, condition, timestep,
            grid_index, stage, error_<objective>``); ``condition`` indexes ``classes``.
        provenance: The shard provenance (model id and weights hash, settings, code).
        shard: The shard directory when one was kept (``out=``), else ``None``.
    """

    predictions: pd.DataFrame
    pairs: pd.DataFrame
    provenance: dict
    shard: Path | None = None

    @property
    def accuracy(self) -> float | None:
        """Share of labelled images classified correctly; ``None`` without labels."""
        known = self.predictions[self.predictions["label"] != ""]
        return None if known.empty else float(known["correct"].mean())

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.predictions.to_csv(path, index=False)
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
        if not classes:
            raise ValueError("give at least one class name")
        if len(set(classes)) != len(classes):
            raise ValueError(f"class names repeat: {sorted({c for c in classes if classes.count(c) > 1})}")
        adapter = adapter or detect_adapter(checkpoint)
        predictor = ModelSpec(adapter=adapter, dtype=dtype).load(str(checkpoint), device)
        spec = ModelSpec(adapter=adapter, checkpoint=str(checkpoint), dtype=dtype, image=model_image(predictor, image))
        if adapter_uses_prompts(adapter):
            if prompts is None:
                prompts = class_prompts(classes, PromptSpec(template or "{}"))["prompt"].tolist()
            elif template is not None:
                raise ValueError("give a template or explicit prompts, not both")
            condition = ConditionSpec(class_names=tuple(classes), class_ids=tuple(range(len(classes))),
                                      prompts=tuple(prompts))
        else:
            if template is not None or prompts is not None:
                raise ValueError(f"adapter {adapter!r} is class-conditional: it takes class ids, not prompts "
                                 "(drop template/prompts; pass class_ids to map names to the model's ids)")
            ids = tuple(range(len(classes))) if class_ids is None else tuple(int(i) for i in class_ids)
            if len(ids) != len(classes):
                raise ValueError(f"{len(ids)} class ids for {len(classes)} classes: give one id per class")
            condition = ConditionSpec(class_names=tuple(classes), class_ids=ids)
        conditioning = build_conditioning(adapter, predictor, condition)
        scoring = ScoringSpec(seed=seed, batch_size=batch_size, device=device)
        return cls(predictor, spec, classes, conditioning, parse_strategy(strategy), scoring, condition.prompts)

    @property
    def passes_per_image(self) -> int:
        return self.config.schedule.passes(len(self.classes))

    def classify_folder(self, folder: str | Path, **kwargs) -> ClassifyResult:
        """Classify every image under ``folder``; an image in a subfolder named like a class gets that label."""
        folder = Path(folder)
        paths = list_images(folder)
        ids = [p.relative_to(folder).as_posix() for p in paths]
        labels = [p.parent.name if p.parent != folder and p.parent.name in self.classes else None for p in paths]
        return self.classify(paths, ids=ids, labels=labels, **kwargs)

    def classify(self, images: Iterable[Image.Image | str | Path], *, ids: Sequence[str] | None = None,
                 labels: Sequence[str | None] | None = None, out: str | Path | None = None,
                 progress: bool = True) -> ClassifyResult:
        """Classify ``images`` (PIL images or paths); ``out`` keeps the error-store shard there.

        ``ids`` name the images (default: the path, or ``image-00000``...); each id
        seeds the image's noise, so an image gets the same pairs in every run.
        """
        images = list(images)
        ids = list(ids) if ids is not None else [
            str(x) if isinstance(x, (str, Path)) else f"image-{i:05d}" for i, x in enumerate(images)]
        labels = list(labels) if labels is not None else [None] * len(images)
        if not len(images) == len(ids) == len(labels):
            raise ValueError(f"{len(images)} images, {len(ids)} ids and {len(labels)} labels: give one of each")
        if len(set(ids)) != len(ids):
            raise ValueError("image ids repeat: give every image its own id")
        unknown = sorted({lab for lab in labels if lab is not None and lab not in self.classes})
        if unknown:
            raise ValueError(f"labels {unknown} are not among the classes {self.classes}")
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(out) if out is not None else Path(scratch) / "shard"
            writer = ShardWriter(target, self._provenance(_content_sha256(images, ids, labels)),
                                 checkpoint_every=self.scoring.checkpoint_every)
            device, dtype = self.predictor.device, self.predictor.dtype
            for image, image_id, label in tqdm(list(zip(images, ids, labels)), desc="classify",
                                               disable=not progress):
                if image_id in writer.done:
                    continue
                pil = image if isinstance(image, Image.Image) else Image.open(image)
                latent = self.predictor.encode(self.transform(pil).unsqueeze(0).to(device, dtype))[0]
                seed = self.scoring.noise_seed(image_id, self.strategy)
                noise = draw_noise(seed, self.config.schedule.num_noise, tuple(latent.shape))
                scores = self.engine.classify(latent, noise)
                writer.add(image_id, UNKNOWN_LABEL if label is None else self.classes.index(label), seed, scores)
            writer.finalize()
            shard = read_shard(target)
        images = shard.images.assign(seconds=shard.images["image_id"].map(writer.image_seconds))
        return ClassifyResult(self._predictions(images, shard.errors), shard.errors, shard.provenance,
                              Path(out) if out is not None else None)

    def _provenance(self, content_sha256: str) -> dict:
        # The pipeline's shard provenance with a stand-in dataset entry: the images are the user's.
        dataset = SimpleNamespace(metadata={"name": "user_images", "classes": self.classes, "prompts": self.prompts},
                                  content_sha256=content_sha256)
        return shard_provenance(
            dataset=dataset, split="user", shard=0, num_shards=1, model=asdict(self.model),
            predictor=self.predictor, config=self.config, scoring_spec=self.scoring, strategy_spec=self.strategy,
            transform=self.transform, num_classes=len(self.classes), names={"classes": self.classes},
        )

    def _predictions(self, images: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        means = pair_scores(pairs, self.config.loss).assign(mean_error=lambda f: -f["score"])
        wide = means.pivot(index="image_id", columns="caption", values="mean_error")
        wide = wide.reindex(columns=range(len(self.classes)))
        wide.columns = [f"mean_error_{name}" for name in self.classes]
        wide.index = wide.index.astype(str)
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

