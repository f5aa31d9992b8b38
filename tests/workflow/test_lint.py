"""The workflow's shape: `snakemake --lint` and `snakefmt --check` clean, every config dry-runs,
rules files hold rules only, and parsing the workflow does not import torch.

The layout follows snakemake-workflows (rna-seq-star-deseq2, dna-seq-varlociraptor):
workflow/rules/common.smk holds all Python (validation, paths by name, input functions,
get_final_output()); the other rules files hold rules, defined unconditionally.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "workflow" / "rules"
pytestmark = pytest.mark.workflow

# Every config the project ships or tests with, as the --configfile arguments of a run
# (no argument: the embedded default, config/mini.yaml).
CONFIGS = {
    "embedded default": [],
    "paper": ["config/paper.yaml"],
    "paper rehearsal": ["config/paper.yaml", "config/rehearsal.yaml"],
    "micro": ["tests/configs/micro.yaml"],
    "shared": ["tests/configs/shared.yaml"],
}


def _snakemake(*args: str, results: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *args, "--config", f"results={results}"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("config", ["config/mini.yaml", "config/paper.yaml"])
def test_snakemake_lint_is_clean(config, tmp_path):
    run = _snakemake("--lint", "--configfile", config, results=tmp_path / "results")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]


def test_snakefmt_leaves_the_workflow_unchanged():
    """Formatted by `snakefmt Snakefile workflow` (settings in pyproject.toml, [tool.snakefmt])."""
    run = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--compact-diff", "Snakefile", "workflow"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, "run `snakefmt Snakefile workflow`:\n" + run.stdout[-6000:] + run.stderr[-2000:]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_config_dry_runs(name, tmp_path):
    configfiles = ["--configfile", *CONFIGS[name]] if CONFIGS[name] else []
    run = _snakemake("-n", "--cores", "2", "--quiet", "rules", *configfiles, results=tmp_path / "results")
    assert run.returncode == 0, run.stderr[-4000:]
    assert re.search(r"^total\s+\d+", run.stdout + run.stderr, re.M), run.stdout[-2000:]


def test_rules_files_hold_rules_only():
    """No Python statement at the top level of a rules file: no function, no global, no `if` around a rule."""
    python = re.compile(r"^(def |class |if |for |while |import |from |[A-Za-z_][\w.]*\s*(=|\.\w+\())", re.M)
    offenders = [
        f"{path.name}: {line}"
        for path in sorted(RULES.glob("*.smk"))
        if path.name != "common.smk"
        for line in path.read_text().splitlines()
        if python.match(line)
    ]
    assert not offenders, f"move these into workflow/rules/common.smk: {offenders}"


def test_parsing_the_workflow_does_not_import_torch(tmp_path):
    """`snakemake -n` of the paper DAG imports neither torch nor the package's heavy modules."""
    code = (
        "import sys\n"
        "from snakemake.cli import main\n"
        f"sys.argv = ['snakemake', '-n', '--quiet', '--configfile', 'config/paper.yaml', "
        f"'--config', 'results={tmp_path / 'results'}']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('IMPORTED', sorted(m for m in ('torch', 'diffusion_classifier.engine.predictor',"
        " 'diffusion_classifier.engine.scoring') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "IMPORTED []" in run.stdout, run.stdout[-2000:]


def _mini_with(tmp_path: Path, edit) -> Path:
    config = copy.deepcopy(yaml.safe_load((ROOT / "config/mini.yaml").read_text()))
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_dangling_name_fails_the_dry_run_in_one_line(tmp_path):
    path = _mini_with(tmp_path, lambda c: c["experiments"].append(
        {"dataset": "digits", "model": "nope", "strategy": "even25"}))
    run = _snakemake("-n", "--configfile", str(path), results=tmp_path / "results")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "unknown model 'nope'; defined: ['digits_text', 'digits_unet']" in output, output[-3000:]


def test_an_unknown_registry_name_stops_a_run_before_its_first_job(tmp_path):
    """Adapters, objectives, schedules, ... are checked by onstart (the registries import torch)."""
    path = _mini_with(tmp_path, lambda c: c["models"]["digits_unet"].update(adapter="nope"))
    results = tmp_path / "results"
    run = _snakemake("--cores", "1", "--configfile", str(path), results=results)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "models.digits_unet.adapter: unknown model adapter 'nope'" in output, output[-3000:]
    assert not results.exists(), "a job ran before the config was checked"
