"""The data layer's error: a prepared dataset or one of its images is missing or malformed.

Its own module so that every reader (the manifest, the image decoder, the dataset
preparers) raises it without importing another's module.
"""

from __future__ import annotations

from ..errors import UserError

__all__ = ["DatasetError"]


class DatasetError(UserError, ValueError):
    """A prepared dataset or one of its images is missing or malformed."""
