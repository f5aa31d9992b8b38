"""Stage ``download_dataset``: obtain a dataset and write it in the manifest format."""

from __future__ import annotations

from pathlib import Path

from ._registry import stage

__all__ = ["download_dataset"]


@stage("download-dataset")
def download_dataset(source: str, output_dir: str, options: dict | None = None) -> Path:
    """Obtain a dataset and write it in the manifest format.

    Args:
        source: Name in the dataset registry.
        output_dir: The prepared dataset directory.
        options: JSON options of the dataset (``datasets.<name>.options``).
    """
    from ..data import prepare_dataset

    return prepare_dataset(source, output_dir, **(options or {}))
