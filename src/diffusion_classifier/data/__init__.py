"""Datasets: the registry, the manifest format, readers, and the bundled digits."""

from . import digit_captions, digits, imagenet, objectnet, shifts, torchvision_sets, winoground  # noqa: F401
from .class_map import ClassMap
from .errors import DatasetError
from .manifest import MANIFEST_COLUMNS, PreparedDataset, load_dataset, write_dataset
from .registry import DatasetEntry, get_dataset, list_datasets, prepare_dataset, register_dataset
from .paper_settings import PaperSettings, accuracy, get_paper_settings, list_paper_settings
from .transforms import ImageTransform

__all__ = [
    "MANIFEST_COLUMNS",
    "ClassMap",
    "PaperSettings",
    "accuracy",
    "get_paper_settings",
    "list_paper_settings",
    "DatasetEntry",
    "DatasetError",
    "ImageTransform",
    "PreparedDataset",
    "get_dataset",
    "list_datasets",
    "load_dataset",
    "prepare_dataset",
    "register_dataset",
    "write_dataset",
]
