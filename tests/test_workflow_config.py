"""Config validation: the schema catches misspelt keys, check_config dangling names."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from diffusion_classifier.workflow_config import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")


def test_shipped_configs_are_valid(mini):
    for config in (mini, yaml.safe_load((ROOT / "tests/configs/micro.yaml").read_text())):
        validate(config, schema=SCHEMA)
        check_config(config)


def test_misspelt_key_fails_validation(mini):
    mini["strategies"]["even25"]["evaluation"] = [5]
    with pytest.raises(Exception, match="evaluation"):
        validate(mini, schema=SCHEMA)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["experiments"].append({"dataset": "digits", "model": "nope", "strategy": "even25"}),
         "unknown model 'nope'"),
        (lambda c: c["datasets"]["digits"].update(source="imagenet_typo"), "unknown dataset source"),
        (lambda c: c["models"]["digits_unet"].update(adapter="nope"), "unknown model adapter"),
        (lambda c: c["models"]["digits_unet"].pop("train"), "either a 'checkpoint'"),
        (lambda c: c["strategies"]["even25"].update(keep=[2]), "exactly 1 class"),
        (lambda c: c["strategies"]["even25"].update(loss="l3"), "unknown objective 'l3'"),
    ],
)
def test_dangling_names_are_clear_errors(mini, edit, message):
    edit(mini)
    with pytest.raises(ConfigError, match=message):
        check_config(mini)


@pytest.mark.parametrize(
    "strategy, message",
    [({"evaluations": [4, 2], "keep": [2, 1]}, r"stage 1 \(evaluations\[1\] = 2\) adds no grid point"),
     ({"evaluations": [5, 10, 25], "keep": [2, 3, 1]}, "must not increase")],
)
def test_schedules_the_engine_cannot_run_fail_validation(mini, strategy, message):
    """Caught when the workflow starts, not on the first image of a scoring job."""
    mini["strategies"]["adaptive"].update(strategy)
    with pytest.raises(ConfigError, match=f"strategies.adaptive: .*{message}"):
        check_config(mini)


def test_a_keeplist_larger_than_a_known_class_count_fails_validation():
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    run = next(r for r in paper["experiments"] if r["dataset"] == "oxford_pets")
    paper["strategies"][run["strategy"]]["keep"] = [40, 1]  # Pets has 37 classes
    with pytest.raises(ConfigError, match="dataset 'oxford_pets': keep \\[40, 1\\] keeps \\[40\\] of only 37"):
        check_config(paper)
