"""Stages audit_filters and make_table2: n/a without weights, heads when present, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import diffusion_classifier.audit as audit_package
from diffusion_classifier.audit import ChecksumMismatchError, get_weights_spec
from diffusion_classifier.baselines import WEIGHTS_UNAVAILABLE
from diffusion_classifier.cli import DEBUG_ENV, main
from diffusion_classifier.data import write_dataset
from diffusion_classifier.errors import UserError
from diffusion_classifier.stages import audit as audit_stage
from diffusion_classifier.stages.audit import audit_filters, make_table2

from helpers.audit_helpers import make_aesthetic_state


@pytest.fixture
def prepared(tiny_dataset) -> Path:
    """The audit fixture's images (one undecodable) as a prepared test split."""
    root, manifest = tiny_dataset
    rows = manifest.assign(split="test", label=0)
    return write_dataset(root, rows, ["thing"], {"name": "tiny"})


def _audit(weights_dir: Path, **extra) -> dict:
    return {"datasets": ["tiny"], "weights_dir": str(weights_dir), "device": "cpu", "batch_size": 3, **extra}


def test_without_weights_only_resolution_is_computed(prepared, tmp_path):
    summary = audit_filters(prepared, _audit(tmp_path / "none"), tmp_path / "s.parquet", tmp_path / "s.json",
                            dataset_name="tiny")
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert len(scores) == 7  # the undecodable image is kept
    assert scores["passes_resolution"].tolist() == [True, False, False, False, True, False, True]
    assert scores["passes_aesthetic"].isna().all()
    assert summary["decode_errors"] == 1 and summary["decode_failures"][0]["image_id"] == "im03"
    assert summary["filters"]["resolution"]["available"]
    assert summary["filters"]["aesthetic"] == {**summary["filters"]["aesthetic"], "available": False,
                                               "reason": WEIGHTS_UNAVAILABLE}
    assert summary["shares"]["Resolution"] == pytest.approx(300 / 7)
    assert summary["shares"]["Aesthetic"] is None


def test_present_heads_are_used_with_the_injected_embedder(prepared, tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save(make_aesthetic_state(), weights / get_weights_spec("laion-aesthetic-l14").filename)

    def fake_embedder(device, pretrained, cache_dir):
        return lambda images: torch.stack([torch.from_numpy(
            np.resize(np.asarray(im, dtype=np.float32).ravel(), 768)) for im in images])

    monkeypatch.setattr(audit_package, "load_clip_l14_embedder", fake_embedder)
    summary = audit_filters(prepared, _audit(weights), tmp_path / "s.parquet", tmp_path / "s.json")
    scores = pd.read_parquet(tmp_path / "s.parquet")
    decoded = scores["decode_error"] == ""
    assert scores.loc[decoded, "aesthetic"].notna().all() and scores.loc[~decoded, "aesthetic"].isna().all()
    assert summary["filters"]["aesthetic"]["available"] and not summary["filters"]["nsfw"]["available"]
    assert summary["filters"]["aesthetic"]["weights"]["sha256"]


def test_without_clip_the_heads_are_n_a_and_required_fails(prepared, tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save(make_aesthetic_state(), weights / get_weights_spec("laion-aesthetic-l14").filename)

    def no_clip(device, pretrained, cache_dir):
        raise ImportError("the CLIP ViT-L/14 embedder needs open_clip")

    monkeypatch.setattr(audit_package, "load_clip_l14_embedder", no_clip)
    summary = audit_filters(prepared, _audit(weights), tmp_path / "s.parquet", tmp_path / "s.json")
    assert summary["filters"]["aesthetic"]["reason"] == audit_stage.CLIP_UNAVAILABLE
    with pytest.raises(UserError, match="audit.required"):
        audit_filters(prepared, _audit(weights, required=True), tmp_path / "r.parquet", tmp_path / "r.json")


def test_a_weight_file_with_the_wrong_checksum_refuses_to_run(prepared, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save(make_aesthetic_state(), weights / get_weights_spec("laion-aesthetic-l14").filename)
    with pytest.raises(ChecksumMismatchError, match="refusing"):
        audit_filters(prepared, _audit(weights, sha256={"aesthetic": "0" * 64}), tmp_path / "s.parquet",
                      tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


def test_table2_puts_the_papers_values_beside_ours(prepared, tmp_path):
    paths = []
    for name in ("cifar10", "tiny"):
        audit_filters(prepared, _audit(tmp_path / "none"), tmp_path / f"{name}.parquet", tmp_path / f"{name}.json",
                      dataset_name=name)
        paths.append((tmp_path / f"{name}.parquet", tmp_path / f"{name}.json"))
    csv_path, md_path = make_table2(
        [p for p, _ in paths], [s for _, s in paths], tmp_path / "table2.md", tmp_path / "table2.csv"
    )
    cells = pd.read_csv(csv_path).set_index(["dataset", "column"])
    assert cells.loc[("cifar10", "Resolution"), "ours"] == pytest.approx(300 / 7)
    assert cells.loc[("cifar10", "Aesthetic"), "paper"] == 3.4
    assert pd.isna(cells.loc[("tiny", "SFW"), "paper"])
    assert cells.loc[("tiny", "R+A+S"), "note"] == WEIGHTS_UNAVAILABLE
    md = md_path.read_text()
    from helpers.tables import markdown_rows

    rows = {row[0]: row for row in markdown_rows(md)}
    assert rows["cifar10"][:5] == ["cifar10", "42.9", "0.0", f"n/a ({WEIGHTS_UNAVAILABLE})", "3.4"]
    assert "resolution: computed for cifar10, tiny." in md and rows["tiny"][-2:] == ["7", "1"]
    assert json.loads((tmp_path / "tiny.json").read_text())["config"]["min_side"] == 512


def _cli_audit(prepared: Path, tmp_path: Path, audit: dict, *flags: str) -> int:
    return main(
        [
            *flags,
            "audit-filters",
            "--dataset-dir",
            str(prepared),
            "--dataset-name",
            "tiny",
            "--audit",
            json.dumps(audit),
            "--output-scores",
            str(tmp_path / "c.parquet"),
            "--output-summary",
            str(tmp_path / "c.json"),
        ]
    )


@pytest.fixture
def mismatched_weights(tmp_path) -> tuple[Path, Path]:
    weights = tmp_path / "weights"
    weights.mkdir()
    path = weights / get_weights_spec("laion-aesthetic-l14").filename
    torch.save(make_aesthetic_state(), path)
    return weights, path


def test_a_checksum_mismatch_on_the_command_line_is_one_line_naming_the_file(prepared, tmp_path, capsys,
                                                                            mismatched_weights, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    weights, path = mismatched_weights
    assert _cli_audit(prepared, tmp_path, _audit(weights, sha256={"aesthetic": "0" * 64})) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: refusing to use weights") and str(path) in err[0]
    assert "Fix: replace the file" in err[0] and "Traceback" not in err[0]


def test_debug_shows_the_traceback(prepared, tmp_path, mismatched_weights, monkeypatch):
    weights, _ = mismatched_weights
    audit = _audit(weights, sha256={"aesthetic": "0" * 64})
    with pytest.raises(ChecksumMismatchError):
        _cli_audit(prepared, tmp_path, audit, "--debug")
    monkeypatch.setenv(DEBUG_ENV, "1")  # what a Snakemake user sets, without editing rules
    with pytest.raises(ChecksumMismatchError):
        _cli_audit(prepared, tmp_path, audit)


def test_required_filters_that_cannot_run_are_one_line(prepared, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert _cli_audit(prepared, tmp_path, _audit(tmp_path / "none", required=True)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "audit.required is set" in err[0] and "unset audit.required" in err[0]
