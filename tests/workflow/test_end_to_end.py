"""Snakemake runs the whole DAG on the micro config, resumes nothing twice, and the
command-line stages refuse bad input cleanly."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from diffusion_classifier.artifacts import read_shard

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


def snakemake(results: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "tests/configs/micro.yaml",
           "--config", f"results={results}", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("micro") / "results"
    run = snakemake(results)
    assert run.returncode == 0, run.stderr[-4000:]
    return results


def test_tables_are_produced(micro_run):
    table = pd.read_csv(micro_run / "tables/classification.csv")
    assert set(table["strategy"]) == {"even25", "adaptive"}
    assert (table["images"] == 20).all()
    # Passes come from the schedules: 10 classes x 4, and 10 x 2 + 2 x 2.
    assert dict(zip(table["strategy"], table["passes_per_image"])) == {"even25": 40, "adaptive": 24}
    assert ((table["accuracy"] >= 0) & (table["accuracy"] <= 100)).all()
    assert (micro_run / "tables/classification.md").read_text().startswith("Diffusion Classifier accuracy")


def test_every_rule_leaves_a_log_and_a_benchmark(micro_run):
    for rule in ("download_dataset", "train_model", "score_shard", "aggregate_scores", "make_tables"):
        assert list((micro_run / "logs" / rule).rglob("*.log")), rule
        assert list((micro_run / "benchmarks" / rule).rglob("*.tsv")), rule


def test_shards_split_the_images_and_record_provenance(micro_run):
    shards = sorted((micro_run / "scores/digits/digits_unet/adaptive").glob("shard-*"))
    assert [s.name for s in shards] == ["shard-000", "shard-001"]
    parts = [read_shard(s) for s in shards]
    ids = [set(p.images["image_id"]) for p in parts]
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == 20
    provenance = parts[0].provenance
    assert provenance["weights_sha256"] and provenance["code_version"] and provenance["run_key"]
    assert provenance["settings"]["scoring_config"]["loss"] == "l1"
    errors = parts[0].errors
    assert set(errors["stage"]) == {0, 1} and "error_l1" in errors
    summary = json.loads((micro_run / "predictions/digits/digits_unet/adaptive.summary.json").read_text())
    assert summary["num_images"] == 20 and len(summary["shards"]) == 2


def test_second_run_has_nothing_to_do(micro_run):
    before = (micro_run / "tables/classification.csv").read_bytes()
    run = snakemake(micro_run, "-n")
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr
    assert (micro_run / "tables/classification.csv").read_bytes() == before


def test_cli_reports_bad_input_without_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "diffusion_classifier.cli", "score-shard", "--dataset", str(tmp_path / "none"),
         "--checkpoint", str(tmp_path), "--model", '{"adapter": "class_conditional"}',
         "--strategy", '{"evaluations": [4]}', "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert run.returncode == 2
    assert "dataset.json is missing" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


# --- zero-shot and compositional part ----------------------------------------------------
def test_zeroshot_and_compositional_tables(micro_run):
    zeroshot = pd.read_csv(micro_run / "tables/zeroshot.csv")
    assert zeroshot[["dataset", "model", "strategy"]].values.tolist() == [["digits", "digits_text", "adaptive"]]
    assert zeroshot["template"].tolist() == ["a picture of a {}"] and (zeroshot["images"] == 20).all()
    table = pd.read_csv(micro_run / "conditioning/digits/digits_text/prompts.csv")
    assert table["prompt"].tolist() == [f"a picture of a {d}" for d in range(10)]
    assert (micro_run / "conditioning/digits/digits_text/embeddings.safetensors").exists()
    shard = read_shard(micro_run / "scores/digits/digits_text/adaptive/shard-000")
    assert shard.provenance["settings"]["prompts"]["templates"] == ["a picture of a {}"]

    compositional = pd.read_csv(micro_run / "tables/compositional.csv")
    subsets = dict(zip(compositional["subset"], compositional["examples"]))
    assert subsets == {"all": 45, "collapsed_tag=Object": 45, "tag=seen": 40, "tag=unseen": 5}
    assert ((compositional["group"] <= compositional["text"]) & (compositional["group"] <= compositional["image"])).all()
    pairs = [read_shard(p) for p in sorted((micro_run / "pairs/digit_captions/digits_text/pairs25").glob("shard-*"))]
    assert sum(len(p.images) for p in pairs) == 90 and all(set(p.errors["condition"]) == {0, 1} for p in pairs)
    for rule in ("prepare_prompts", "score_pairs", "aggregate_pairs", "make_zeroshot_table",
                 "make_compositional_table"):
        assert list((micro_run / "logs" / rule).rglob("*.log")), rule
        assert list((micro_run / "benchmarks" / rule).rglob("*.tsv")), rule
