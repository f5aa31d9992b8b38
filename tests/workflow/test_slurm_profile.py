"""The Slurm profile sends every GPU job of the paper DAG to the GPU partition.

A rule with ``resources: gpu=1`` that the profile forgets would ask Slurm for a GPU
on the CPU partition (never scheduled), and a GPU-partition job without ``gpu`` would
hold a GPU node without a GPU: either way the job does not run where it should.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the profile's executor: pip install -e '.[cluster]'")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


def _jobs_with_resources() -> list[tuple[str, dict[str, str]]]:
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", "profiles/slurm-gpu",
         "--configfile", "config/paper.yaml", "--config", "results=/tmp/dc-slurm-profile-dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", run.stdout):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            pairs = (item.split("=", 1) for item in resources.group(1).split(", ") if "=" in item)
            jobs.append((rule.group(1), {k: v for k, v in pairs}))
    return jobs


def test_every_gpu_job_runs_on_the_gpu_partition():
    jobs = _jobs_with_resources()
    gpu_rules = {rule for rule, res in jobs if res.get("gpu") == "1"}
    # The paper's GPU work: scoring, prompts, generation, features, CLIP, the zoo, the audit.
    assert {"score_shard", "score_pairs", "generate_synthetic", "extract_sd_features",
            "train_synthetic_classifier", "clip_zero_shot", "evaluate_zoo_model"} <= gpu_rules
    for rule, res in jobs:
        on_gpu_partition = res.get("slurm_partition") == "gpu"
        assert on_gpu_partition == (res.get("gpu") == "1"), f"{rule}: {res}"
        if on_gpu_partition:
            assert res.get("slurm_extra") == "--requeue", f"{rule} is not requeued after preemption"
