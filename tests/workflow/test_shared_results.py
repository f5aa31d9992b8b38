"""Paper tables from shared results: push a run's scores to a remote, clone, pull, regenerate, compare bytes.

Runs paper/dvc.template.yaml (as paper/dvc.yaml) on tests/configs/shared.yaml (one tiny model, one scored run): the
"cluster run" is Snakemake on the CPU; everything after it is what a lab does with the
paper-scale scores. Outputs the small config does not make (Winoground, the zoo, the
audit, ...) are dropped from the copy's paper/dvc.yaml, nothing else changes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from .dvc_helpers import ROOT, dvc, git, repository_copy, run

pytestmark = pytest.mark.workflow

CONFIG = "tests/configs/shared.yaml"
RESULTS = "results/paper"
PROFILE = ROOT / "profiles/tables-only/config.yaml"


def _gpu_rules() -> set[str]:
    """Rules that declare a GPU, read from the rule files (``resources: gpu=1``)."""
    found = set()
    for path in (ROOT / "workflow/rules").glob("*.smk"):
        for block in re.split(r"\n(?=\s*rule \w+:)", path.read_text()):
            name = re.search(r"rule (\w+):", block)
            if name and re.search(r"\bgpu\s*=\s*[1-9]", block):
                found.add(name.group(1))
    return found


def test_the_tables_only_profile_allows_no_gpu_rule():
    allowed = set(yaml.safe_load(PROFILE.read_text())["allowed-rules"])
    gpu = _gpu_rules()
    assert {"score_shard", "score_pairs", "figure_noise_pairing"} <= gpu  # the parser sees them
    assert not allowed & gpu, f"tables-only profile allows GPU rules {allowed & gpu}"
    assert not allowed & {"train_model", "download_dataset", "aggregate_scores", "prepare_prompts"}


def _only_existing(repo: Path) -> None:
    """The copy's paper/dvc.yaml from the template, on the small config: its config path, and only the
    outputs it makes."""
    path = repo / "paper/dvc.yaml"
    spec = yaml.safe_load((repo / "paper/dvc.template.yaml").read_text())  # copied in after the cluster run
    spec["vars"] = [{"config": CONFIG, "results": RESULTS}]
    exists = lambda entry: (repo / (entry if isinstance(entry, str) else next(iter(entry))).replace(  # noqa: E731
        "${results}", RESULTS).replace("${config}", CONFIG)).exists()
    for stage in spec["stages"].values():
        for key in ("outs", "deps", "metrics"):
            if key in stage:
                stage[key] = [e for e in stage[key] if exists(e)]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def _table_bytes(repo: Path) -> dict[str, bytes]:
    files = [p for p in (repo / RESULTS).rglob("*") if p.is_file() and (
        p.parent.name in ("tables", "figures") or p.name in ("metrics.json", "metrics_detail.json"))]
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(files)}


def test_tables_regenerate_byte_identical_from_a_pulled_run(tmp_path):
    lab = repository_copy(tmp_path / "lab")
    remote = tmp_path / "remote"
    # The cluster run (here: the small config on the CPU), then its scores versioned and pushed.
    run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", CONFIG], lab, timeout=None)
    made = _table_bytes(lab)
    assert f"{RESULTS}/tables/classification.csv" in made and f"{RESULTS}/metrics.json" in made
    _only_existing(lab)
    dvc("commit", "-f", "paper/dvc.yaml:scores", cwd=lab)
    dvc("repro", "paper/dvc.yaml:tables", cwd=lab)
    assert _table_bytes(lab) == made  # regenerated in place by the tables-only profile
    dvc("remote", "add", "-d", "shared", str(remote), cwd=lab)
    dvc("push", "paper/dvc.yaml:scores", cwd=lab)
    git("add", "-A", cwd=lab)
    git("commit", "-qm", "paper-scale scores", cwd=lab)

    # Elsewhere, without a GPU: clone, pull the scores, regenerate every table.
    git("clone", "-q", str(lab), str(tmp_path / "clone"), cwd=tmp_path)
    clone = tmp_path / "clone"
    # The metrics come through git (cache: false, `dvc metrics diff` without a pull); the rest through DVC.
    assert sorted(p.name for p in (clone / RESULTS).iterdir()) == ["metrics.json", "metrics_detail.json"]
    dvc("pull", "paper/dvc.yaml:scores", cwd=clone)
    assert not (clone / RESULTS / "tables").exists()
    repro = dvc("repro", "paper/dvc.yaml:tables", cwd=clone)
    assert "score_shard" not in repro.stdout + repro.stderr  # no scoring job even considered
    assert _table_bytes(clone) == made

    # A missing result is an error naming it, never a job that would remake it.
    (clone / RESULTS / "predictions/digits/digits_unet/even4.summary.json").unlink()
    failed = dvc("repro", "paper/dvc.yaml:tables", cwd=clone, check=False)
    assert failed.returncode != 0
    assert "Missing input files" in failed.stdout + failed.stderr
    assert "even4.summary.json" in failed.stdout + failed.stderr
    assert "aggregate_scores" not in failed.stdout + failed.stderr
