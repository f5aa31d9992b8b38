"""The `contrastive` section adds the contrastive baseline's row to the compositional table."""

import json
import subprocess
import sys

import pytest
import yaml

from diffusion_classifier.reporting.run_tables import compositional_frame

from .dvc_helpers import ROOT

pytestmark = pytest.mark.workflow


def test_the_rule_writes_a_row_the_compositional_table_reads(tmp_path):
    config = yaml.safe_load((ROOT / "tests/configs/micro.yaml").read_text())
    config["contrastive"] = {"dataset": "digit_captions", "group_by": ["collapsed_tag", "tag"],
                             "train": {"steps": 5, "batch_size": 16}}
    config["results"] = str(tmp_path / "results")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    base = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(path)]
    dry = subprocess.run([*base[:3], "-n", "make_compositional_table", *base[3:]], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert dry.returncode == 0, dry.stderr[-3000:]
    summary = tmp_path / "results/compositional/contrastive/digit_captions.summary.json"
    assert "rule evaluate_contrastive" in dry.stdout and str(summary) in dry.stdout
    run = subprocess.run([*base[:3], str(summary), *base[3:]], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    frame = compositional_frame([json.loads(summary.read_text())])
    assert set(frame["subset"]) == {"all", "collapsed_tag=Object", "tag=seen", "tag=unseen"}
    assert (frame["model"] == "contrastive").all() and json.loads(summary.read_text())["train"]["steps"] == 5
