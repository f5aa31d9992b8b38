"""Table 1 assembly from summary files, and the paper's values kept in one place."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from diffusion_classifier.baselines import WEIGHTS_UNAVAILABLE, accuracy_summary, unavailable_summary
from diffusion_classifier.reporting.paper_values import paper_table, paper_value
from diffusion_classifier.stages.baselines import make_table1
from helpers.tables import html_rows, markdown_rows


def test_paper_values_are_the_papers():
    assert paper_value("table1", "diffusion_classifier", "cifar10") == 88.5
    assert paper_value("table1", "openclip_vith14", "objectnet") == 69.2
    assert paper_value("table2", "objectnet", "R+A+S") == 20.2
    assert paper_value("table3", "clip_vitl14", "Average") == 28.2
    assert paper_value("table1", "clip_rn50", "digits") is None
    assert len(paper_table("table1")) == 5 and all(len(v) == 8 for v in paper_table("table1").values())
    with pytest.raises(KeyError, match="known"):
        paper_value("table99", "x", "y")


def _write(path, summary):
    path.write_text(json.dumps(summary))
    return str(path)


def test_table1_reads_each_cell_from_its_summary(tmp_path):
    # The Diffusion Classifier's aggregate summary: keys of stages.aggregate.
    dc_pets = _write(tmp_path / "dc_pets.json", {"accuracy": 0.5, "mean_per_class_accuracy": 0.4, "num_images": 10,
                                                 "accuracy_ci_low": 0.1, "accuracy_ci_high": 0.9})
    dc_digits = _write(tmp_path / "dc_digits.json", accuracy_summary([0, 0, 1, 1], [0, 1, 1, 1]))
    clip = _write(tmp_path / "clip.json", unavailable_summary(WEIGHTS_UNAVAILABLE, "no file"))
    sources = {"diffusion_classifier": {"oxford_pets": dc_pets, "digits": dc_digits},
               "clip_rn50": {"oxford_pets": clip}}
    csv_path, md_path = make_table1(sources, ["oxford_pets", "digits"], tmp_path / "table1.md", tmp_path / "table1.csv")

    cells = pd.read_csv(csv_path).set_index(["method_key", "dataset"])
    # Pets is a mean-per-class benchmark; digits (not in the paper) is top-1.
    assert cells.loc[("diffusion_classifier", "oxford_pets"), "ours"] == pytest.approx(40.0)
    assert cells.loc[("diffusion_classifier", "oxford_pets"), "metric"] == "mean_per_class"
    assert cells.loc[("diffusion_classifier", "digits"), "ours"] == pytest.approx(75.0)
    assert cells.loc[("diffusion_classifier", "oxford_pets"), "paper"] == 87.3
    assert pd.isna(cells.loc[("diffusion_classifier", "digits"), "paper"])
    assert cells.loc[("clip_rn50", "oxford_pets"), "note"] == WEIGHTS_UNAVAILABLE
    assert pd.isna(cells.loc[("clip_rn50", "oxford_pets"), "ours"])
    assert cells.loc[("synthetic_sd_data", "digits"), "note"] == "not run"
    assert len(cells) == 5 * 2

    md = md_path.read_text()
    rows = markdown_rows(md)
    # The paper has no digits column: no column of dashes, one sentence in the caption.
    assert rows[0] == ["Method", "Zero-shot?", "oxford pets", "oxford pets (paper)", "digits"]
    assert ["Diffusion Classifier", "yes", "40.0", "87.3", "75.0"] in rows
    assert ["CLIP ResNet-50", "yes", f"n/a ({WEIGHTS_UNAVAILABLE})", "85.4", "n/a (not run)"] in rows
    assert ["SD Features", "no"] == rows[2][:2] and "oxford_pets mean per class" in md
    assert "The paper reports no digits value." in md
    assert html_rows(md_path.with_suffix(".html").read_text()) == rows


def test_table1_rejects_an_unknown_row_and_a_summary_without_the_metric(tmp_path):
    ok = _write(tmp_path / "a.json", accuracy_summary([0], [0]))
    with pytest.raises(ValueError, match="unknown row"):
        make_table1({"clip_rn51": {"digits": ok}}, ["digits"], tmp_path / "t.md", tmp_path / "t.csv")
    bad = _write(tmp_path / "b.json", {"status": "ok", "accuracy": None})
    with pytest.raises(ValueError, match="no 'accuracy'"):
        make_table1({"clip_rn50": {"digits": bad}}, ["digits"], tmp_path / "t.md", tmp_path / "t.csv")


def test_table1_caption_states_the_imagenet_image_count(tmp_path):
    # Paper Sec. 5.1: 2,000 ImageNet images; the authors' commands note 4 per class (4,000).
    cell = _write(tmp_path / "dc.json", accuracy_summary([0, 1], [0, 1]))
    _, md_path = make_table1(
        {"diffusion_classifier": {"imagenet_2k": cell}}, ["imagenet_2k"], tmp_path / "t.md", tmp_path / "t.csv"
    )
    md = md_path.read_text()
    assert "2,000 validation images" in md and "4,000" in md
    _, md_path = make_table1(
        {"diffusion_classifier": {"digits": cell}}, ["digits"], tmp_path / "d.md", tmp_path / "d.csv"
    )
    assert "4,000" not in md_path.read_text()
