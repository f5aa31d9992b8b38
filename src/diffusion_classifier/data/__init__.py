"""Datasets: the registry, the manifest format, readers, and the bundled digits."""

from . import digits  # noqa: F401  (registers the bundled dataset)
from . import digit_captions, winoground  # noqa: F401  (register the caption-pair datasets)
from .manifest import MANIFEST_COLUMNS, DatasetError, PreparedDataset, load_dataset, write_dataset
from .registry import DatasetEntry, get_dataset, list_datasets, prepare_dataset, register_dataset
from .transforms import ImageTransform

__all__ = [
    "MANIFEST_COLUMNS",
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
