"""Rule fetch_prompt_table feeds prepare_prompts: a released table from a local mirror is what gets encoded."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow

NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def test_the_released_table_is_fetched_verified_and_encoded(tmp_path):
    table = "prompt,classname,classidx\n" + "".join(
        f'"a picture of the digit {word}, a number.",{i},{i}\n' for i, word in enumerate(NUMBERS))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "digits_prompts.csv").write_text(table)
    results = tmp_path / "results"
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({
        "results": str(results),
        "prompt_tables": {"base_url": mirror.as_uri(), "dir": str(tmp_path / "cache")},
        "datasets": {"digits": {"prompt_table": {"file": "digits_prompts.csv",
                                                 "sha256": hashlib.sha256(table.encode()).hexdigest()}}},
    }))
    target = results / "conditioning" / "digits" / "digits_text"
    run = subprocess.run([sys.executable, "-m", "snakemake", str(target), "--cores", "2", "--configfile",
                          "tests/configs/micro.yaml", str(overlay)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]
    assert (results / "prompt_tables" / "digits.csv").read_text() == table
    assert (tmp_path / "cache" / "digits_prompts.csv").read_text() == table
    assert list((results / "logs" / "fetch_prompt_table").glob("*.log"))
    assert list((results / "benchmarks" / "fetch_prompt_table").glob("*.tsv"))
    prompts = pd.read_csv(target / "prompts.csv")
    assert prompts["prompt"].tolist() == [f"a picture of the digit {w}, a number." for w in NUMBERS]
