"""Config values reach rule shells quoted: no config value runs a command, paths with spaces work.

The embedded default, with a results path and free-text values full of shell syntax
(``$(...)``, backticks, ``;``, quotes, spaces), is dry-run with ``-p``; then every printed
shell command of every rule is *executed* by bash with a stand-in ``diffusion-classifier``
that records its argv. Nothing may be executed by the shell (no ``PWNED`` file appears),
and the stand-in must receive each value intact, exactly the words the command quotes.
Names that become paths and wildcards (datasets, models, strategies, splits, ...) are
refused by the schema instead.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from helpers.dry_run import dry_run_jobs

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")
pytestmark = pytest.mark.workflow

HOSTILE = "$(touch PWNED1) `touch PWNED2`; touch PWNED3 && echo \"it's\" | touch PWNED4"
STAND_IN = """#!/bin/bash
# Records the words it was called with, one per NUL-terminated record.
printf '%s\\0' "$@" > "$ARGV_FILE"
"""


def _hostile_config(mini: dict, results: Path) -> dict:
    config = copy.deepcopy(mini)
    config["results"] = str(results)
    # Free text that travels inside JSON arguments.
    config["datasets"]["digits"]["prompt_template"] = "a photo of the number {}. " + HOSTILE
    # A hub checkpoint id goes into the shell as a plain word.
    hub = copy.deepcopy(config["models"]["digits_unet"])
    hub.pop("train", None)
    hub.pop("train_dataset", None)
    hub["checkpoint"] = "hub/" + HOSTILE
    config["models"]["hub_unet"] = hub
    config["experiments"].append({"dataset": "digits", "model": "hub_unet", "strategy": "even25"})
    # Winoground's CLIP rows and Table 3 (not in the embedded default) on the caption-pair digits.
    config["baselines"]["winoground"] = {"models": [next(iter(config["baselines"]["clip_models"]))],
                                         "dataset": "digit_captions"}
    config["table3"] = {"dataset": "digit_captions", "model": "digits_text", "strategy": "pairs25"}
    # A released prompt table (rule fetch_prompt_table) whose cache folder is hostile too.
    config["prompt_tables"] = {"dir": "raw prompts/" + HOSTILE}
    config["datasets"]["digits"]["prompt_table"] = {"file": "digits_prompts.csv", "sha256": "0" * 64}
    # A sequential run calibrated on train images (rules score_calibration, fit_calibration).
    config["strategies"]["seqc"] = {"evaluations": [25], "keep": [1], "loss": "l2",
                                    "sequential": {"test": "conditional", "min_points": 1}}
    config["experiments"].append({"dataset": "digits", "model": "digits_unet", "strategy": "seqc",
                                  "calibration": {"split": "train", "images": 4}})
    # An SD-features classifier borrowed by another dataset (rule evaluate_feature_classifier).
    features = config["baselines"]["features"]
    features["datasets"] = [*features["datasets"], "digits_corrupted"]
    features["classifier_from"] = {"digits_corrupted": features["datasets"][0]}
    # A fit's ID accuracy replayed from a stored one-stage run on the OOD set's classes (rule replay_restricted).
    config["robustness"]["fits"]["corrupted"]["diffusion"].append(
        {"label": "Diffusion Classifier (replayed ID)", "model": "digits_unet", "strategy": "even25",
         "id_dataset": "digits", "ood_dataset": "digits_corrupted", "id_classes_from": "digits_corrupted"})
    config["experiments"].append({"dataset": "digits_corrupted", "model": "digits_unet", "strategy": "even25"})
    return config


def _all_rules() -> set[str]:
    """Every rule the workflow files define (some only under some configs); the targets `all`
    and `opt_in` only collect files."""
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    return {name for f in files for name in re.findall(r"^\s*rule (\w+):", f.read_text(), re.M)} - {"all", "opt_in"}


def test_every_rule_quotes_hostile_values(mini, tmp_path):
    results = tmp_path / f"res {HOSTILE}"
    configfile = tmp_path / "hostile.yaml"
    configfile.write_text(yaml.safe_dump(_hostile_config(mini, results)))
    jobs = dry_run_jobs(configfile)
    assert {rule for rule, _ in jobs} == _all_rules(), "the hostile config must reach every rule"

    bin_dir, cwd = tmp_path / "bin", tmp_path / "cwd"
    bin_dir.mkdir()
    cwd.mkdir()
    (bin_dir / "diffusion-classifier").write_text(STAND_IN)
    (bin_dir / "diffusion-classifier").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for i, (rule, command) in enumerate(jobs):
        words = shlex.split(command)
        assert words[-2:] == ["2>&1"] or words[-1] == "2>&1", f"{rule}: {command}"
        log = Path(words[words.index(">") + 1])
        log.parent.mkdir(parents=True, exist_ok=True)
        argv_file = tmp_path / f"argv-{i}"
        done = subprocess.run(["bash", "-c", command], cwd=cwd, env={**env, "ARGV_FILE": str(argv_file)},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{rule}: {done.stderr}"
        received = argv_file.read_bytes().decode().split("\0")[:-1]
        expected = words[1:words.index(">")]
        # Shell arithmetic on the shard number ($((10#003)) -> 3) is the one expansion.
        expected = [str(int(w[6:-2])) if w.startswith("$((10#") else w for w in expected]
        assert received == expected, f"{rule}: the shell split or expanded a value:\n{command}"
    pwned = [p for p in tmp_path.rglob("PWNED*") if p.name.startswith("PWNED")]
    assert not pwned, f"a config value ran a command: {pwned}"
    assert any(str(results) in word for word in received)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["datasets"].update({"digits; touch PWNED": c["datasets"]["digits"]}),
        lambda c: c["models"].update({"unet $(id)": c["models"]["digits_unet"]}),
        lambda c: c["strategies"].update({"`id`": c["strategies"]["even25"]}),
        lambda c: c["experiments"][0].update(split="test$(touch PWNED)"),
        lambda c: c["zoo"]["models"].update({"a b": next(iter(c["zoo"]["models"].values()))}),
        lambda c: c.update(results="results/{dataset}"),
        lambda c: c.update(results="results\nrm -rf ~"),
    ],
)
def test_names_that_become_paths_are_refused_by_the_schema(mini, edit):
    config = copy.deepcopy(mini)
    edit(config)
    with pytest.raises(Exception, match="Error validating config"):
        validate(config, schema=SCHEMA)


def test_a_results_path_with_spaces_and_shell_syntax_is_valid(mini):
    config = copy.deepcopy(mini)
    config["results"] = f"my results/{HOSTILE}"
    validate(config, schema=SCHEMA)
