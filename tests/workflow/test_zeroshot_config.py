"""Config checks of the zero-shot / compositional part, and the paper-scale fragment."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from diffusion_classifier.workflow_config import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["datasets"]["digits"].pop("prompt_template"), "needs a prompt_template"),
        (lambda c: c["datasets"]["digits"].update(prompt_template="a picture"), "exactly one"),
        (lambda c: c["compositional"][0].update(strategy="adaptive"), "one-stage strategy"),
        (lambda c: c["compositional"][0].update(model="digits_unet"), "not text-conditional"),
        (lambda c: c["compositional"][0].update(dataset="nope"), "unknown dataset 'nope'"),
        (lambda c: c["datasets"]["digit_captions"]["options"].update(seed=1), "test digits leak into training"),
    ],
)
def test_zeroshot_mistakes_are_config_errors(mini, edit, message):
    edit(mini)
    with pytest.raises(ConfigError, match=message):
        check_config(mini)


def test_paper_fragment_is_valid_once_merged(mini):
    fragment = yaml.safe_load((ROOT / "config/fragments/zeroshot.yaml").read_text())
    merged = {key: (({**mini[key], **fragment[key]} if isinstance(mini.get(key), dict) else
                     [*mini.get(key, []), *fragment[key]]) if key in fragment else mini[key])
              for key in {*mini, *fragment}}
    validate(merged, schema=SCHEMA)
    # Readers of the paper's classification datasets are registered by other work: check the
    # rest against this checkout's registry.
    from diffusion_classifier.data import list_datasets

    absent = {n for n, d in merged["datasets"].items() if d["source"] not in list_datasets()}
    merged["experiments"] = [r for r in merged["experiments"] if r["dataset"] not in absent]
    check_config({**merged, "datasets": {n: d for n, d in merged["datasets"].items() if n not in absent}})
    sd = merged["models"]["sd2_base"]
    assert sd["checkpoint"] == "stabilityai/stable-diffusion-2-base" and sd["dtype"] == "float16"
    assert merged["datasets"]["pets"]["prompt_template"] == "a photo of a {}, a type of pet."
