"""Fixtures of the dataset tests; the native-format builders live in native_formats.py."""

from pathlib import Path

import pytest


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """An empty raw-download cache directory."""
    path = tmp_path / "raw"
    path.mkdir()
    return path
