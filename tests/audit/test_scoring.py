"""End-to-end scoring on a tiny dataset with random heads loaded by the real loaders."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from diffusion_classifier.audit import (
    SCORE_COLUMNS,
    AuditConfig,
    convert_keras_nsfw,
    decode_failures,
    format_table2,
    load_clip_l14_embedder,
    load_filter_heads,
    score_manifest,
    table2,
)

from helpers.audit_helpers import fake_embed, make_aesthetic_state, make_keras_nsfw, numpy_aesthetic, numpy_nsfw


@pytest.fixture
def weights_dir(tmp_path: Path) -> tuple[Path, dict, dict]:
    directory = tmp_path / "weights"
    directory.mkdir()
    state = make_aesthetic_state()
    torch.save(state, directory / "sac+logos+ava1-l14-linearMSE.pth")
    arrays = make_keras_nsfw()
    convert_keras_nsfw(arrays, directory / "clip_autokeras_binary_nsfw.safetensors")
    return directory, state, arrays


def test_scores_match_numpy_and_failures_are_kept(tiny_dataset, decoded_features, weights_dir) -> None:
    root, manifest = tiny_dataset
    directory, state, arrays = weights_dir
    heads = load_filter_heads(directory)
    assert sorted(heads) == ["aesthetic", "nsfw"]
    ids = [i for i in manifest["image_id"] if i in decoded_features]
    x = np.stack([decoded_features[i] for i in ids])
    want_a, want_p = numpy_aesthetic(state, x), numpy_nsfw(arrays, x)
    # thresholds between the reference scores, so that both outcomes occur and the check bites;
    # batch_size 3 puts the broken image (row 3) first in a batch, so misaligned writes show
    config = AuditConfig(
        aesthetic_threshold=float(np.median(want_a)),
        punsafe_threshold=float(np.median(want_p)),
        batch_size=3,
    )
    scores = score_manifest(manifest, root, fake_embed, heads, config, progress=False)

    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert scores["image_id"].tolist() == manifest["image_id"].tolist()  # nothing dropped, same order
    ok = scores["decode_error"] == ""
    assert scores.loc[~ok, "image_id"].tolist() == ["im03"]
    assert scores.loc[ok, "image_id"].tolist() == ids

    np.testing.assert_allclose(scores.loc[ok, "aesthetic"], want_a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scores.loc[ok, "punsafe"], want_p, rtol=1e-4, atol=1e-5)
    assert scores.loc[ok, "passes_aesthetic"].tolist() == list(want_a >= config.aesthetic_threshold)
    assert scores.loc[ok, "passes_nsfw"].tolist() == list(want_p < config.punsafe_threshold)
    assert 0 < scores["passes_aesthetic"].sum() < len(ids) and 0 < scores["passes_nsfw"].sum() < len(ids)

    bad = scores.loc[~ok].iloc[0]
    assert np.isnan(bad["aesthetic"]) and np.isnan(bad["punsafe"])
    assert bad["passes_aesthetic"] is pd.NA and bad["passes_nsfw"] is pd.NA
    assert bool(bad["passes_resolution"]) is False  # (640, 480) from the manifest

    failures = decode_failures(scores)
    assert failures["image_id"].tolist() == ["im03"] and failures["decode_error"][0]
    assert table2({"tiny": scores}).loc["tiny", "decode_errors"] == 1


def test_thresholds_come_from_config(tiny_dataset, weights_dir) -> None:
    root, manifest = tiny_dataset
    heads = load_filter_heads(weights_dir[0])
    config = AuditConfig(aesthetic_threshold=1e9, punsafe_threshold=0.0)
    strict = score_manifest(manifest, root, fake_embed, heads, config, progress=False)
    ok = strict["decode_error"] == ""
    assert not strict.loc[ok, "passes_aesthetic"].any() and not strict.loc[ok, "passes_nsfw"].any()


def test_without_weights_filters_are_na_and_embed_is_not_called(tiny_dataset, tmp_path: Path) -> None:
    root, manifest = tiny_dataset

    def must_not_run(images):
        raise AssertionError("embed called although no head is loaded")

    heads = load_filter_heads(tmp_path / "empty")
    assert heads == {}
    scores = score_manifest(manifest, root, must_not_run, heads, progress=False)
    assert scores["aesthetic"].isna().all() and scores["passes_nsfw"].isna().all()
    assert (scores["decode_error"] != "").sum() == 1
    shown = format_table2(table2({"tiny": scores})).loc["tiny"]
    assert shown["Resolution"] == "42.9"
    assert [shown[c] for c in ("Aesthetic", "SFW", "A+S", "R+A+S")] == ["n/a"] * 4


def test_only_aesthetic_available(tiny_dataset, weights_dir) -> None:
    root, manifest = tiny_dataset
    (weights_dir[0] / "clip_autokeras_binary_nsfw.safetensors").unlink()
    heads = load_filter_heads(weights_dir[0])
    assert list(heads) == ["aesthetic"]
    scores = score_manifest(manifest, root, fake_embed, heads, progress=False)
    shown = format_table2(table2({"t": scores})).loc["t"]
    assert shown["Aesthetic"] != "n/a" and shown["SFW"] == "n/a" and shown["R+A+S"] == "n/a"


def test_bad_inputs_fail_clearly(tiny_dataset, weights_dir) -> None:
    root, manifest = tiny_dataset
    heads = load_filter_heads(weights_dir[0])
    with pytest.raises(ValueError, match="need an embed"):
        score_manifest(manifest, root, None, heads, progress=False)
    with pytest.raises(KeyError, match="known"):
        score_manifest(manifest, root, fake_embed, {"clip-score": heads["nsfw"]}, progress=False)
    with pytest.raises(ValueError, match="expected"):
        score_manifest(manifest, root, lambda ims: torch.zeros(len(ims), 512), heads, progress=False)


def test_clip_embedder_without_open_clip_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(ImportError, match="open_clip_torch"):
        load_clip_l14_embedder("cpu")


def test_boundaries_follow_sd2_rules() -> None:
    """Aesthetic passes at exactly 4.5 (>=); safety fails at exactly 0.1 (punsafe < 0.1)."""
    from diffusion_classifier.audit import EMBEDDING_FILTERS

    config = AuditConfig()
    assert EMBEDDING_FILTERS["aesthetic"].passes(np.array([4.5, 4.4999]), config).tolist() == [True, False]
    assert EMBEDDING_FILTERS["nsfw"].passes(np.array([0.1, 0.0999]), config).tolist() == [False, True]
