"""A sequential run with the conditional test gets its calibration set through the DAG:
score_calibration (other images, one stage) -> fit_calibration -> score_shard."""

import json
import subprocess
import sys

import pytest
import yaml

from diffusion_classifier.artifacts import read_shard

from .dvc_helpers import ROOT

pytestmark = pytest.mark.workflow


def test_a_conditional_run_is_calibrated_on_train_images_by_the_dag(tmp_path):
    config = yaml.safe_load((ROOT / "tests/configs/micro.yaml").read_text())
    config["strategies"]["seqc"] = {"evaluations": [4], "keep": [1], "loss": "l2",
                                    "sequential": {"block": 1, "k": 1.0, "min_points": 1, "test": "conditional"}}
    config["experiments"].append({"dataset": "digits", "model": "digits_unet", "strategy": "seqc", "opt_in": True,
                                  "calibration": {"split": "train", "images": 6}})
    config["results"] = str(tmp_path / "results")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    summary = tmp_path / "results/predictions/digits/digits_unet/seqc.summary.json"
    run = subprocess.run([sys.executable, "-m", "snakemake", str(summary), "--cores", "2", "--configfile", str(path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rule score_calibration" in run.stdout + run.stderr and "rule fit_calibration" in run.stdout + run.stderr
    calibration = tmp_path / "results/calibration/digits/digits_unet/seqc.json"
    fitted = json.loads(calibration.read_text())
    calibration_set = read_shard(tmp_path / "results/calibration/digits/digits_unet/seqc/scores")
    assert calibration_set.provenance["settings"]["split"] == "train"
    assert calibration_set.provenance["settings"]["max_images"] == 6 and len(calibration_set.images) == 6
    assert "sequential" not in calibration_set.provenance["settings"]["scoring_config"]  # one stage
    assert fitted["provenance"]["image_ids"] == sorted(calibration_set.images["image_id"])
    shard = read_shard(tmp_path / "results/scores/digits/digits_unet/seqc/shard-000")
    sequential = shard.provenance["settings"]["scoring_config"]["sequential"]
    assert sequential["calibration"] == str(calibration) and sequential["test"] == "conditional"
    assert not set(shard.images["image_id"]) & set(fitted["provenance"]["image_ids"])  # test images only
    assert json.loads(summary.read_text())["num_images"] > 0
