"""What the library must know of each paper dataset: classes, metric, CLIP prompt.

One frozen :class:`PaperSettings` per dataset name of ``config/paper.yaml`` (paper
Sec. 4.2 and 5; the authors' release), holding only what the library reads and the
config does not state: the class count (checked against a strategy's keep-list before
a job starts), the benchmark's accuracy convention (Table 1: mean per-class accuracy
for Aircraft, Pets and Flowers, top-1 elsewhere; :data:`ACCURACY_METRICS`) and the
CLIP prompt template of the CLIP baselines. The runs themselves (schedules, losses,
subsets, models) are ``config/paper.yaml``'s, stated nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["PaperSettings", "PAPER_SETTINGS", "ACCURACY_METRICS", "get_paper_settings", "list_paper_settings",
           "accuracy"]


@dataclass(frozen=True)
class PaperSettings:
    """The paper's setup for one dataset.

    Attributes:
        dataset: Dataset name in the workflow config.
        source: Its entry in the dataset registry (a config dataset of the same name
            and source is this one).
        num_classes: Label classes a prediction chooses among.
        class_names: Where the class names come from (read at prepare time).
        accuracy: Name in :data:`ACCURACY_METRICS` (``top1`` or ``mean_per_class``).
        prompt_template: CLIP-style template with one ``{}`` (datasets the paper runs zero-shot).
    """

    dataset: str
    source: str
    num_classes: int
    class_names: str
    accuracy: str = "top1"
    prompt_template: str | None = None

    def __post_init__(self) -> None:
        if self.accuracy not in ACCURACY_METRICS:
            raise ValueError(f"{self.dataset}: unknown accuracy {self.accuracy!r}; known {sorted(ACCURACY_METRICS)}")
        if self.prompt_template is not None and self.prompt_template.count("{}") != 1:
            raise ValueError(f"{self.dataset}: a prompt template needs exactly one '{{}}'")

    def prompts(self, class_names: Sequence[str]) -> list[str]:
        """One prompt per class, in label order."""
        if self.prompt_template is None:
            raise ValueError(f"{self.dataset} has no prompt template (not a zero-shot dataset)")
        if len(class_names) != self.num_classes:
            raise ValueError(f"{self.dataset}: {len(class_names)} class names for {self.num_classes} classes; "
                             "the class-name file must match the label count")
        return [self.prompt_template.format(name) for name in class_names]


def _top1(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(labels == predictions))


def _mean_per_class(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean([np.mean(predictions[labels == c] == c) for c in np.unique(labels)]))


ACCURACY_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "top1": _top1,
    "mean_per_class": _mean_per_class,
}


def accuracy(kind: str, labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Accuracy in [0, 1] by the named convention."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError(f"need equally many labels and predictions, got {labels.shape} and {predictions.shape}")
    try:
        return ACCURACY_METRICS[kind](labels, predictions)
    except KeyError:
        raise ValueError(f"unknown accuracy {kind!r}; known {sorted(ACCURACY_METRICS)}") from None


_IMAGENET_NAMES = "open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES by sorted-wnid class id (imagenet_classes.py)"

PAPER_SETTINGS: dict[str, PaperSettings] = {s.dataset: s for s in (
    PaperSettings("food101", "food101", 101, "torchvision Food101 meta/classes, '_' -> ' '",
                  prompt_template="a photo of {}, a type of food."),
    PaperSettings("cifar10", "cifar10", 10, "torchvision CIFAR10 batches.meta label_names",
                  prompt_template="a blurry photo of a {}."),
    PaperSettings("fgvc_aircraft", "fgvc_aircraft", 100, "torchvision FGVCAircraft variants.txt",
                  accuracy="mean_per_class", prompt_template="a photo of a {}, a type of aircraft."),
    PaperSettings("oxford_pets", "oxford_pets", 37, "torchvision OxfordIIITPet (breed from file names)",
                  accuracy="mean_per_class", prompt_template="a photo of a {}, a type of pet."),
    PaperSettings("flowers102", "flowers102", 102, "torchvision Flowers102.classes with CLIP's two differing names (torchvision_sets.py)",
                  accuracy="mean_per_class", prompt_template="a photo of a {}, a type of flower."),
    PaperSettings("stl10", "stl10", 10, "torchvision STL10 class_names.txt",
                  prompt_template="a photo of a {}."),
    PaperSettings("imagenet_2k", "imagenet_val", 1000, _IMAGENET_NAMES,
                  prompt_template="a photo of a {}."),
    PaperSettings("objectnet", "objectnet", 113, "ObjectNet release mappings/objectnet_to_imagenet_1k.json keys, in folder order",
                  prompt_template="a photo of a {}."),
    PaperSettings("imagenet_10k", "imagenet_val", 1000, _IMAGENET_NAMES),
    PaperSettings("imagenet_v2", "imagenet_v2", 1000, _IMAGENET_NAMES),
    PaperSettings("imagenet_a", "imagenet_a", 200, "ImageNet-A wnid folders + " + _IMAGENET_NAMES),
    PaperSettings("imagenet_val_a200", "imagenet_val", 200, "ImageNet-A's classes (restrict_to)"),
    PaperSettings("imagenet_val_objectnet", "imagenet_val", 113, "ObjectNet's classes (restrict_to)"),
)}


def list_paper_settings() -> list[str]:
    return sorted(PAPER_SETTINGS)


def get_paper_settings(dataset: str) -> PaperSettings:
    """The paper's settings of ``dataset``; an unknown name lists the known ones."""
    try:
        return PAPER_SETTINGS[dataset]
    except KeyError:
        raise ValueError(f"no paper settings for dataset {dataset!r}; known: {list_paper_settings()}") from None
