"""The packaged testbed table's README names its source: the file, the commit and its model count."""

import re
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "src" / "diffusion_classifier" / "robustness" / "data"


def test_readme_names_the_commit_and_the_model_count_of_the_packaged_table():
    readme = (DATA / "README.md").read_text()
    table = pd.read_csv(DATA / "testbed_top1.csv")
    # robustness_top1s.csv at f4083a2 has 335 models (an older commit, b9067fc1, has 216).
    assert re.search(r"`robustness_top1s\.csv`, github\.com/modestyachts/imagenet-testbed, commit f4083a2\b", readme)
    counts = {int(n) for n in re.findall(r"(\d+) (?:ImageNet )?models", readme)}
    assert counts == {len(table)} == {335}
