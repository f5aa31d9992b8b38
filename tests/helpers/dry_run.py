"""The jobs of a Snakemake dry run, as the tests that check every rule's command read them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dry_run_jobs(configfile: str | Path, *args: str) -> list[tuple[str, str]]:
    """(rule, shell command) of every job of ``snakemake -n -p`` on ``configfile`` (``args`` appended)."""
    return [(rule, command) for rule, command, _ in dry_run_jobs_with_outputs(configfile, *args)]


def dry_run_jobs_with_outputs(configfile: str | Path, *args: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(rule, shell command, declared outputs) of every job of a dry run, as :func:`dry_run_jobs`."""
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", "--configfile", str(configfile), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", run.stdout):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        command = re.search(r"^Shell command: (.*)$", block, re.M)
        outputs = re.search(r"^    output: (.*)$", block, re.M)
        if rule and command and command.group(1) != "None":
            declared = tuple(outputs.group(1).split(", ")) if outputs else ()
            jobs.append((rule.group(1), command.group(1), declared))
    return jobs
