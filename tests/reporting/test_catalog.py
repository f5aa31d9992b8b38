"""The catalog of the paper's artifacts (reporting/catalog.yaml) and what the workflow derives from it.

Each table and figure is one catalog entry; these tests keep the workflow's rules, the
tables-only profile, the report captions and the paper's values in step with it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from diffusion_classifier.reporting.catalog import artifact, artifacts
from diffusion_classifier.reporting.objectives_table import paper_value as table5_value
from diffusion_classifier.reporting.paper_values import paper_table, paper_value

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "workflow" / "rules"


def _rule_blocks() -> dict[str, str]:
    """Rule name -> its text, from every rules file."""
    blocks = {}
    for path in RULES.glob("*.smk"):
        for block in re.split(r"\n(?=rule \w+:)", path.read_text()):
            name = re.match(r"rule (\w+):", block)
            if name:
                blocks[name.group(1)] = block
    return blocks


def test_the_papers_tables_and_figures_are_entries_named_after_them():
    for n in range(1, 6):
        entry = artifact(f"table{n}")
        assert entry.paper.startswith(f"Table {n} (Sec. "), entry.paper
        assert entry.files == (f"tables/table{n}.md", f"tables/table{n}.csv", f"tables/table{n}.html")
        assert entry.values, f"table{n} carries the paper's values"
    for n in range(2, 7):
        entry = artifact(f"fig{n}")
        assert entry.paper.startswith(f"Figure {n} (Sec. "), entry.paper
        assert all(file.startswith(f"figures/fig{n}_") for file in entry.files), entry.files
    with pytest.raises(KeyError, match="unknown paper artifact 'table9'; known: .*'table1'"):
        artifact("table9")


def test_each_artifact_is_written_by_its_rule_with_its_caption():
    blocks = _rule_blocks()
    for name in artifacts():
        entry = artifact(name)
        block = blocks[entry.rule]
        if entry.frame:  # the generic rule
            assert entry.rule == "make_tables" and "caption=lambda w: report_caption(w.table)" in block
            continue
        for file in entry.files:
            suffix = file.rsplit(".", 1)[1]
            assert re.search(rf'artifact_output\("{name}", "{suffix}"', block), f"rule {entry.rule} lacks {file}"
        caption = re.search(r"caption=report_caption\((.*)\)", block)
        assert caption and f'"{name}"' in caption.group(1), f"rule {entry.rule} does not caption {name}"


def test_gpu_is_what_the_rule_declares_and_the_tables_only_profile_runs_the_rest():
    blocks = _rule_blocks()
    for name in artifacts():
        entry = artifact(name)
        declares = bool(re.search(r"\bgpu\s*=\s*[1-9]", blocks[entry.rule]))
        assert entry.gpu == declares, f"{name}: catalog gpu={entry.gpu}, rule {entry.rule} gpu={declares}"
    profile = yaml.safe_load((ROOT / "profiles/tables-only/config.yaml").read_text())
    derived = {"all", "make_metrics"} | {artifact(n).rule for n in artifacts() if not artifact(n).gpu}
    assert set(profile["allowed-rules"]) == derived
    assert "figure_noise_pairing" not in derived


def test_the_paper_dvc_template_versions_every_figure_where_its_rule_runs():
    """GPU figures are outputs of the frozen cluster stage, the others of the tables stage."""
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    stages = yaml.safe_load((ROOT / "paper/dvc.template.yaml").read_text())["stages"]
    declared = {stage: {out for out in spec["outs"] if isinstance(out, str) and "/figures/" in out}
                for stage, spec in stages.items()}
    expected: dict[str, set[str]] = {"scores": set(), "tables": set()}
    for name in artifacts():
        entry = artifact(name)
        datasets = sorted({run["dataset"] for run in paper[entry.per_dataset_of]}) if entry.per_dataset_of else [""]
        for file in entry.files:
            if file.startswith("figures/"):
                expected["scores" if entry.gpu else "tables"] |= {
                    "${results}/" + file.replace("{dataset}", d) for d in datasets}
    assert declared == expected


def test_report_captions_are_the_catalogs_rendered_by_one_template():
    from docutils.core import publish_parts
    from jinja2 import Template

    assert sorted(p.name for p in (ROOT / "workflow/report").iterdir()) == ["artifact.rst", "workflow.rst"]
    template = Template((ROOT / "workflow/report/artifact.rst").read_text())

    class Params:
        caption = artifact("fig2").caption

    class Job:
        params = Params

    html = publish_parts(template.render(snakemake=Job), writer="html",
                         settings_overrides={"report_level": 2, "halt_level": 2})["body"]
    assert "fig2_noise_pairing.json" in html and "<p>The eps-prediction error" in html
    for name in artifacts():  # every caption is valid reStructuredText (halt_level: a warning raises)
        publish_parts(artifact(name).caption, writer="html", settings_overrides={"halt_level": 2})


def test_a_table_with_a_frame_function_needs_no_rule_or_stage_of_its_own(tmp_path):
    """rule make_tables / stage make-tables build it from its catalog entry alone."""
    from diffusion_classifier.errors import UserError
    from diffusion_classifier.stages.report import make_tables

    blocks = _rule_blocks()
    generic = [name for name in artifacts() if artifact(name).frame]
    assert "classification" in generic
    assert "table=one_of(CATALOG_TABLES)" in blocks["make_tables"]
    summary = {"dataset": "d", "model": "m", "strategy": "s", "passes_per_image": 20.0, "num_images": 6,
               "accuracy": 0.5, "accuracy_ci_low": 0.1, "accuracy_ci_high": 0.9, "mean_per_class_accuracy": 0.5,
               "scoring_config": {"schedule": {"evaluations": [5], "keep": [1]}, "loss": "l2"}, "shards": []}
    path = tmp_path / "s.summary.json"
    path.write_text(json.dumps(summary))
    csv, md = make_tables("classification", {"summaries": [str(path)]}, tmp_path / "c.md", tmp_path / "c.csv")
    assert md.read_text().splitlines()[0] == artifact("classification").table_caption
    assert list(pd.read_csv(csv)["accuracy"]) == [50.0]
    with pytest.raises(UserError, match="reads \\['summaries'\\]"):
        make_tables("classification", {"runs": []}, tmp_path / "c.md", tmp_path / "c.csv")
    with pytest.raises(ValueError, match="has no frame function"):
        artifact("table1").build([])


def test_the_papers_values_live_in_the_catalog():
    assert paper_value("table4", "ResNet-50", "IN") == 76.7
    assert paper_value("table4", "Diffusion Classifier 256", "ObjectNet") == 32.1  # Table 4's, not Table 5's
    assert paper_table("table4") is artifact("table4").values
    assert table5_value({"resolution": 512, "dataset": "ImageNet-A"}, "vlb_bits") == (24.9, "DiT-XL/2 512px, ImageNet-A")
    assert table5_value({"resolution": 256, "dataset": "ObjectNet"}, "l2_vlb") == (33.8, "DiT-XL/2 256px, ObjectNet")
    assert table5_value(None, "l2") == (None, "")
    with pytest.raises(ValueError, match="no column 'DiT-XL/2 128px, ImageNet'"):
        table5_value({"resolution": 128, "dataset": "ImageNet"}, "l2")
    assert not any(artifact(n).values for n in artifacts() if not re.fullmatch(r"table\d", n))


def test_every_table_lists_the_files_write_table_makes():
    """A table's Markdown comes with its CSV and its HTML (the report shows the HTML inline), so
    an entry that names its files by hand lists all three (class_count_study once left out the HTML)."""
    from diffusion_classifier.reporting.catalog import TABLE_FILES

    incomplete = {}
    for entry in map(artifact, artifacts()):
        stems = {f.rsplit(".", 1)[0] for f in entry.files if f.startswith("tables/") and f.endswith(".md")}
        missing = sorted(f"{stem}{suffix}" for stem in stems for suffix in TABLE_FILES
                         if f"{stem}{suffix}" not in entry.files)
        if missing:
            incomplete[entry.name] = missing
    assert not incomplete, f"catalog entries missing table files: {incomplete}"
