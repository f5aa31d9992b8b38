"""The design's cluster command works, and its profile sends every GPU job to the GPU partition.

``snakemake --profile slurm-gpu`` typed in the repository root (Snakemake looks the name
up in the working directory: ``slurm-gpu`` there links to ``profiles/slurm-gpu``) and
``snakemake --profile profiles/slurm-gpu`` must both dry-run the paper DAG.

A rule with ``resources: gpu=1`` that the profile forgets would ask Slurm for a GPU
on the CPU partition (never scheduled), and a GPU-partition job without ``gpu`` would
hold a GPU node without a GPU: either way the job does not run where it should.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("snakemake_executor_plugin_slurm", reason="the profile's executor: pip install -e '.[cluster]'")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


def _dry_run(profile: str, *extra: str) -> subprocess.CompletedProcess:
    """``snakemake --profile PROFILE -n ...`` in the repository root, as a user types it."""
    run = subprocess.run(
        ["snakemake", "--profile", profile, "-n", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"Using profile {profile} for setting default command line arguments" in run.stdout + run.stderr
    return run


def _jobs_with_resources() -> list[tuple[str, dict[str, str]]]:
    # The design's command, exactly: a profile *name*, from the repository root.
    run = _dry_run("slurm-gpu", "--configfile", "config/paper.yaml",
                   "--config", "results=/tmp/dc-slurm-profile-dry-run")
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
            extra = res.get("slurm_extra", "").split()
            assert "--requeue" in extra, f"{rule} is not requeued after preemption"
            # SIGUSR1 ahead of the time limit (the scorer checkpoints on it), to the job steps
            # (no `B:`: the rule's command runs in an srun step), within the job's runtime.
            lead = [re.fullmatch(r"--signal=USR1@(\d+)", item) for item in extra]
            assert any(lead), f"{rule}: no --signal=USR1@<seconds> in slurm_extra {extra}"
            seconds = int(next(m for m in lead if m).group(1))
            assert 60 <= seconds < 60 * int(res["runtime"]), f"{rule}: USR1 {seconds} s ahead of {res['runtime']} min"


def test_slurm_extra_passes_the_executor_plugins_own_validation():
    """The plugin refuses options it manages itself; ours (requeue, signal) are allowed."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm.validation import validate_slurm_extra

    extras = {res["slurm_extra"] for _, res in _jobs_with_resources() if "slurm_extra" in res}
    assert extras
    for extra in extras:
        validate_slurm_extra(SimpleNamespace(resources=SimpleNamespace(slurm_extra=extra)))
    with pytest.raises(Exception, match="not allowed"):  # the check itself can fail
        validate_slurm_extra(SimpleNamespace(resources=SimpleNamespace(slurm_extra="--requeue --gres=gpu:1")))


def test_profile_by_path_still_works():
    """``--profile profiles/slurm-gpu`` (the path form) resolves to the same profile."""
    run = _dry_run("profiles/slurm-gpu", "--config", "results=/tmp/dc-slurm-profile-path-dry-run")
    assert re.search(r"^\s+resources: .*slurm_partition=gpu", run.stdout, re.M), run.stdout[-2000:]


def test_the_profile_name_is_the_repository_link():
    """The name resolves inside the repository (not a user's ~/.config copy) to the one profile."""
    link = ROOT / "slurm-gpu"
    assert link.is_symlink() and link.resolve() == (ROOT / "profiles" / "slurm-gpu").resolve()
