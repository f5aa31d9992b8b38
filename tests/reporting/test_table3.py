"""Paper Table 3 from the Winoground summaries: CLIP rows, ours, the paper's values beside."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from diffusion_classifier.baselines import WEIGHTS_UNAVAILABLE, unavailable_summary
from diffusion_classifier.compositional import outcomes, summarise_examples
from diffusion_classifier.stages.zeroshot import make_table3
from helpers.tables import html_rows, markdown_rows


def _outcomes():
    # Text score per example: Object 1 of 2, Relation 0 of 1, Both 1 of 1 -> all 2 of 4.
    return pd.DataFrame({"collapsed_tag": ["Object", "Object", "Relation", "Both"],
                         "text": [True, False, False, True], "image": [True] * 4, "group": [True, False, False, True]})


def test_table3_has_clip_rows_ours_and_the_papers(tmp_path):
    diffusion = tmp_path / "dc.json"
    diffusion.write_text(json.dumps({"subsets": summarise_examples(_outcomes(), ("collapsed_tag",))}))
    sims = [[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.5, 0.5]], [[0.9, 0.1], [0.2, 0.8]], [[0.1, 0.9], [0.8, 0.2]]]
    per = pd.DataFrame(outcomes(sims)).assign(collapsed_tag=["Object", "Object", "Relation", "Both"])
    vitl = tmp_path / "vitl.json"
    vitl.write_text(json.dumps({"label": "CLIP ViT-L/14", "subsets": summarise_examples(per, ("collapsed_tag",))}))
    vith = tmp_path / "vith.json"
    vith.write_text(json.dumps({"label": "OpenCLIP ViT-H/14", "subsets": None,
                                **unavailable_summary(WEIGHTS_UNAVAILABLE, "no file")}))
    csv_path, md_path = make_table3(
        diffusion, {"clip_vitl14": vitl, "openclip_vith14": vith}, tmp_path / "t3.md", tmp_path / "t3.csv"
    )

    cells = pd.read_csv(csv_path).set_index(["method_key", "column"])
    assert cells.loc[("diffusion_classifier", "Object"), "ours"] == 50.0
    assert cells.loc[("diffusion_classifier", "Average"), "ours"] == 50.0
    assert cells.loc[("diffusion_classifier", "Both"), "examples"] == 1
    assert cells.loc[("diffusion_classifier", "Relation"), "paper"] == 29.2
    assert cells.loc[("clip_vitl14", "Relation"), "ours"] == 100.0 and cells.loc[("clip_vitl14", "Both"), "ours"] == 0.0
    assert (
        cells.loc[("clip_vitl14", "Average"), "ours"] == 50.0 and cells.loc[("clip_vitl14", "Average"), "paper"] == 28.2
    )
    assert pd.isna(cells.loc[("openclip_vith14", "Object"), "ours"])
    assert cells.loc[("openclip_vith14", "Object"), "paper"] == 39.0
    assert cells.loc[("random_chance", "Both"), "ours"] == 25.0
    rows = markdown_rows(md_path.read_text())
    assert ["Diffusion Classifier (ours)", "50.0", "46.1", "0.0", "29.2", "100.0", "80.8", "50.0", "38.5"] in rows
    assert any(row[0] == "OpenCLIP ViT-H/14" and row[1].startswith("n/a (") for row in rows)
    assert html_rows(md_path.with_suffix(".html").read_text()) == rows


def test_table3_needs_the_run_grouped_by_swap_type(tmp_path):
    diffusion = tmp_path / "dc.json"
    diffusion.write_text(json.dumps({"subsets": summarise_examples(_outcomes(), ())}))
    with pytest.raises(ValueError, match="group_by"):
        make_table3(diffusion, {}, tmp_path / "t3.md", tmp_path / "t3.csv")


def test_paper_table3_names_a_compositional_run_grouped_by_swap_type():
    from pathlib import Path

    import yaml

    from diffusion_classifier.workflow_config import ConfigError, check_config

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "paper.yaml").read_text())
    check_config(config)
    config["table3"]["strategy"] = "zs_pets"
    with pytest.raises(ConfigError, match="table3: winoground/sd2_base/zs_pets is not a compositional run"):
        check_config(config)
    config["table3"]["strategy"] = "winoground_all"
    config["compositional"][0]["group_by"] = ["tag"]
    with pytest.raises(ConfigError, match="group by collapsed_tag"):
        check_config(config)
