"""The workflow's config schema is generated from the config dataclasses, its one home."""

import copy
import dataclasses
from pathlib import Path

import pytest
from snakemake.utils import validate

from diffusion_classifier import config_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def test_the_committed_schema_is_the_generated_one():
    assert SCHEMA.read_text() == config_schema.render(), (
        "workflow/schemas/config.schema.yaml is stale: regenerate it with "
        "`python -m diffusion_classifier.config_schema > workflow/schemas/config.schema.yaml`")


def test_the_committed_config_reference_is_the_generated_one():
    """config/README.md documents every key, from the same descriptions as the schema."""
    reference = ROOT / "config/README.md"
    assert reference.read_text() == config_schema.render_markdown(), (
        "config/README.md is stale: regenerate it with "
        "`python -m diffusion_classifier.config_schema --markdown > config/README.md`")
    text = reference.read_text()
    assert "- `scoring.batch_size` (integer >= 1 or one of `auto`; default `256`): Noise-predictor inputs per" in text
    assert "- `strategies.<name>.keep` (" in text and "- `experiments[].dataset` (" in text
    for key in config_schema.generate()["properties"]:
        assert f"\n## `{key}`\n" in text, key


def test_descriptions_come_from_the_dataclass_docstrings():
    schema = config_schema.generate()
    scoring = schema["$defs"]["ScoringSpec"]["properties"]["batch_size"]
    assert scoring["default"] == 256 and scoring["description"].startswith("Noise-predictor inputs per forward pass")
    # inherited fields carry their base's description (ExperimentSpec(RunSpec))
    assert schema["$defs"]["ExperimentSpec"]["properties"]["dataset"]["description"] == "Dataset of the run."
    # every section is closed and every field described
    for name, definition in schema["$defs"].items():
        assert definition["additionalProperties"] is False, name
        assert all("description" in prop for prop in definition["properties"].values()), name


def test_unfilled_defaults_are_described_not_filled(mini):
    """A default the stage applies (zoo training epochs) is no ``default:`` Snakemake writes into the config."""
    train = config_schema.generate()["$defs"]["ZooTrainConfig"]["properties"]
    assert "default" not in train["epochs"] and "(default 3" in train["epochs"]["description"]
    assert train["device"]["default"] == "auto"
    config = copy.deepcopy(mini)
    validate(config, schema=str(SCHEMA))
    for model in config["zoo"]["models"].values():
        if "train" in model:
            assert "weight_decay" not in model["train"] and model["train"]["device"] == "auto"


@pytest.mark.parametrize("edit, where", [
    (lambda c: c["datasets"].update({"bad name": c["datasets"]["digits"]}), "bad name"),  # names: propertyNames
    (lambda c: c["strategies"][next(iter(c["strategies"]))].update(sequential=None), "None"),  # absent, not null
    (lambda c: c.update(scoring=None), "None"),
    (lambda c: c.update(scoring={"batch_size": "big"}), "big"),
    (lambda c: c.update(scoring={"device": "tpu"}), "tpu"),  # a device no torch serves
])
def test_the_generated_schema_refuses(mini, edit, where):
    config = copy.deepcopy(mini)
    edit(config)
    with pytest.raises(Exception, match=where):
        validate(config, schema=str(SCHEMA))


def test_field_docs_reads_google_style_attributes():
    @dataclasses.dataclass
    class Documented:
        """A section.

        Attributes:
            a, b: Shared text that
                continues here.
            c: ``Literal`` text with :class:`~x.y.Role`.
        """

        a: int = 0

    summary, docs = config_schema.field_docs(Documented)
    assert summary == "A section."
    assert docs == {"a": "Shared text that continues here.", "b": "Shared text that continues here.",
                    "c": "Literal text with Role."}
