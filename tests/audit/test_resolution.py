"""Resolution filter: both recorded original sides >= threshold, vectorised, index-aligned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffusion_classifier.audit import AuditConfig, passes_resolution, score_manifest


def test_both_sides_must_reach_the_threshold(tiny_dataset) -> None:
    _, manifest = tiny_dataset
    manifest.index = [10, 11, 12, 13, 14, 15, 16]  # results must follow the index
    got = passes_resolution(manifest)
    assert got.name == "passes_resolution" and list(got.index) == list(manifest.index)
    # (512,512) (511,900) (900,511) (640,480) (4000,3000) (32,32) (1024,768)
    assert got.tolist() == [True, False, False, False, True, False, True]


def test_threshold_is_configurable(tiny_dataset) -> None:
    _, manifest = tiny_dataset
    assert passes_resolution(manifest, min_side=32).all()
    assert passes_resolution(manifest, min_side=480).tolist() == [True, True, True, True, True, False, True]


def test_scoring_uses_recorded_sizes_not_file_sizes(tiny_dataset) -> None:
    """The PNGs are 8-16 px; only the manifest's original sizes decide."""
    root, manifest = tiny_dataset
    scores = score_manifest(manifest, root, progress=False)
    assert scores["passes_resolution"].tolist() == [True, False, False, False, True, False, True]
    scores = score_manifest(manifest, root, config=AuditConfig(min_side=600), progress=False)
    assert scores["passes_resolution"].tolist() == [False, False, False, False, True, False, True]


def test_missing_column_and_missing_size_are_errors() -> None:
    with pytest.raises(KeyError, match="orig_height"):
        passes_resolution(pd.DataFrame({"image_id": ["a"], "orig_width": [600]}))
    frame = pd.DataFrame({"image_id": ["a", "b"], "orig_width": [600, np.nan], "orig_height": [600, 600]})
    with pytest.raises(ValueError, match="'b'"):
        passes_resolution(frame)
