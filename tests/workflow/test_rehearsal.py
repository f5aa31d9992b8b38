"""The dress rehearsal: every rule of config/paper.yaml's DAG runs, on CPU, before a GPU hour is spent.

config/paper.yaml, overridden in scale only by config/rehearsal.yaml, runs end to end in a
scratch folder holding tiny stand-ins of everything it reads (tests/helpers/rehearsal.py):
the datasets in their native download formats, random-weight checkpoints under their real
hub ids and file layouts in an offline Hugging Face cache, the CLIP files and LAION heads at
the configured paths. The rules it executes must be the rules of the paper DAG, so a rule
added to the workflow later is rehearsed too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers.rehearsal import CHECKSUMS, build_rehearsal

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "config" / "paper.yaml"
OVERLAY = ROOT / "config" / "rehearsal.yaml"
pytestmark = pytest.mark.workflow


#: The paper's tables and figures, and the opt-in runs beyond the paper (experiments[].opt_in).
TARGETS = ("all", "opt_in")


def snakemake(directory: Path, *configfiles: Path, dry_run: bool = False,
              env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *TARGETS, "-s", str(ROOT / "Snakefile"), "-d", str(directory),
           "--cores", "2", "--configfile", *map(str, configfiles)]
    cmd += ["-n", "--quiet", "rules"] if dry_run else ["--keep-going"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)


def dag_rules(directory: Path, *configfiles: Path) -> dict[str, int]:
    """Rule -> job count of the DAG Snakemake builds for ``configfiles`` (a dry run)."""
    run = snakemake(directory, *configfiles, dry_run=True)
    assert run.returncode == 0, run.stderr[-3000:]
    counts = {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", run.stdout, re.M)}
    counts.pop("total")  # the job-stats table's last row, not a rule
    return counts


def executed_rules(log: str) -> set[str]:
    """Rules with at least one job Snakemake reported finished."""
    return set(re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", log))


def failed_jobs(log: str) -> dict[str, list[str]]:
    """Rule -> the log files of its failed jobs."""
    failed: dict[str, list[str]] = {}
    for rule, block in re.findall(r"Error in rule (\w+):\n((?:    .*\n)+)", log):
        failed.setdefault(rule, []).extend(re.findall(r"log: (\S+)", block))
    return failed


def log_tail(path: Path, lines: int = 3) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else "(no log)"


@pytest.fixture(scope="module")
def paper_rules(tmp_path_factory) -> set[str]:
    return set(dag_rules(tmp_path_factory.mktemp("paper-dag"), PAPER))


def test_the_overlay_keeps_every_rule_of_the_paper_dag(tmp_path, paper_rules):
    rehearsed = dag_rules(tmp_path, PAPER, OVERLAY)
    assert set(rehearsed) == paper_rules
    assert rehearsed["score_shard"] == rehearsed["aggregate_scores"]  # one shard per scoring run
    assert {"score_calibration", "fit_calibration"} <= set(rehearsed)  # opt-in seq_pets' calibration


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, float]:
    scratch = tmp_path_factory.mktemp("rehearsal")
    env = build_rehearsal(scratch, yaml.safe_load(PAPER.read_text()))
    start = time.monotonic()
    run = snakemake(scratch, PAPER, OVERLAY, scratch / CHECKSUMS, env=env)
    return scratch, run, time.monotonic() - start


def test_every_rule_of_the_paper_dag_runs(rehearsal, paper_rules):
    scratch, run, seconds = rehearsal
    log = run.stdout + run.stderr
    print(f"rehearsal: {seconds:.0f} s, {len(executed_rules(log))} of {len(paper_rules)} rules")
    failed = failed_jobs(log)
    assert not failed, "rules that failed:\n" + "\n".join(
        f"{rule}: {logs[0]}\n{log_tail(scratch / logs[0])}" for rule, logs in sorted(failed.items()))
    assert run.returncode == 0, run.stderr[-3000:]
    assert executed_rules(log) | set(TARGETS) == paper_rules  # target rules only collect files
