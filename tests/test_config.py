"""Generic config helpers: low level (no torch at import), one error type for a bad section."""

import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

from diffusion_classifier.config import ConfigError, from_dict, resolve_device, resolve_dtype
from diffusion_classifier.errors import UserError


@dataclass(frozen=True)
class _Section:
    steps: int
    device: str = "auto"


def test_from_dict_names_the_section_and_the_known_keys():
    assert from_dict(_Section, {"steps": 3}, "x") == _Section(3)
    with pytest.raises(ConfigError, match=r"models.m.train: unknown key\(s\) \['step'\]; known keys: \['device', 'steps'\]"):
        from_dict(_Section, {"step": 3}, "models.m.train")
    with pytest.raises(UserError, match="models.m.train: .*steps"):
        from_dict(_Section, {}, "models.m.train")


def test_device_and_dtype_by_name():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_dtype("float16", torch.device("cpu")) == torch.float32  # half precision is for accelerators
    assert resolve_dtype("bfloat16", torch.device("cuda")) == torch.bfloat16
    with pytest.raises(ConfigError, match="unknown dtype 'fp16'"):
        resolve_dtype("fp16", torch.device("cpu"))


def test_the_helpers_import_nothing_heavy():
    code = "import sys, diffusion_classifier.config, diffusion_classifier.workflow_config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- one home per default: the schema's `default:` entries restate the dataclasses' --------
# Snakemake's validate() fills the schema's defaults into the config the rules read; the
# stages build their sections' dataclasses, whose field defaults are the source. Schema
# node (dotted, `*` every entry of a mapping, `[]` every item of a list) -> its dataclass.
def _schema_mirrors() -> dict:
    from diffusion_classifier import specs
    from diffusion_classifier.audit.config import AuditConfig
    from diffusion_classifier.baselines.zoo import ZooImage, ZooModelSpec
    from diffusion_classifier.baselines.zoo_training import ZooTrainConfig
    from diffusion_classifier.engine.acceleration import Acceleration
    from diffusion_classifier.engine.sequential import SequentialConfig

    return {
        "models.*": specs.ModelSpec,
        "strategies.*": specs.StrategySpec,
        "strategies.*.sequential": SequentialConfig,
        "scoring": specs.ScoringSpec,
        "scoring.acceleration": Acceleration,
        "audit": specs.AuditSpec,
        "audit.thresholds": AuditConfig,
        "baselines.clip_models.*": specs.ClipModelSpec,
        "baselines.zero_shot": specs.ZeroShotSpec,
        "baselines.winoground": specs.WinogroundBaselineSpec,
        "baselines.synthetic": specs.SyntheticSpec,
        "baselines.features": specs.FeatureSpec,
        "noise_pairing": specs.NoisePairingSpec,
        "supervised.schedules.study": specs.ScheduleStudySpec,
        "supervised.schedules.study.sequential": specs.SequentialStudySpec,
        "zoo.settings.*": specs.EvaluationSetting,
        "zoo.models.*": ZooModelSpec,
        "zoo.models.*.image": ZooImage,
        "zoo.models.*.train": ZooTrainConfig,
        "shifts.*": specs.ShiftSpec,
        "robustness": specs.RobustnessSpec,
        "robustness.trend": specs.TrendSpec,
        "robustness.fits.*.testbed": specs.TestbedColumnsSpec,
    }


#: Schema defaults with no dataclass behind them: the schema is their one home, and the
#: rules read the filled value (workflow-level settings, and lists of runs the rules expand).
SCHEMA_ONLY_DEFAULTS = {
    "results", "threads", "datasets.*.options", "datasets.*.prompt_table.identical_prompts", "prompt_tables.dir",
    "experiments[].split", "experiments[].opt_in", "table1.diffusion_classifier", "supervised.timesteps.loss",
    "supervised.objectives.objectives", "supervised.schedules.direct", "supervised.schedules.sequential_runs",
    "compositional", "compositional[].split", "compositional[].group_by", "contrastive.split",
    "contrastive.group_by", "contrastive.train",
    "numerics",  # the modes and their default: tests/test_numerics.py
}


def _schema_defaults(node: dict, path: str = ""):
    """(dotted path, default) of every property of the schema with a ``default:``."""
    if not isinstance(node, dict):
        return
    if "default" in node and path:
        yield path, node["default"]
    for key, child in (node.get("properties") or {}).items():
        yield from _schema_defaults(child, f"{path}.{key}".lstrip("."))
    if isinstance(node.get("additionalProperties"), dict):
        yield from _schema_defaults(node["additionalProperties"], f"{path}.*")
    if isinstance(node.get("items"), dict):
        yield from _schema_defaults(node["items"], f"{path}[]")


def _field_default(cls, name: str):
    import dataclasses

    field = {f.name: f for f in dataclasses.fields(cls)}.get(name)
    if field is None:
        return "<no such field>"
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return "<required>" if field.default is dataclasses.MISSING else field.default


def _plain(value):
    """Lists and tuples alike (a YAML default is a list, a frozen field often a tuple)."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def test_every_schema_default_equals_the_dataclass_field_it_mirrors():
    import yaml
    from pathlib import Path

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    mirrors = _schema_mirrors()
    defaults = list(_schema_defaults(schema))
    assert len(defaults) > 100  # the walk reaches every section
    wrong, unmirrored = [], []
    for path, default in defaults:
        parent, _, name = path.rpartition(".")
        if parent in mirrors:
            expected = _field_default(mirrors[parent], name)
            if _plain(expected) != _plain(default) or isinstance(expected, bool) != isinstance(default, bool):
                wrong.append(f"{path}: schema {default!r}, {mirrors[parent].__name__}.{name} {expected!r}")
        elif path not in SCHEMA_ONLY_DEFAULTS:
            unmirrored.append(path)
    assert not wrong, "schema defaults that differ from their dataclass (the dataclass is the source):\n" + \
        "\n".join(wrong)
    assert not unmirrored, f"schema defaults with no dataclass mirror: map them in _schema_mirrors() or " \
        f"add them to SCHEMA_ONLY_DEFAULTS: {unmirrored}"
    assert SCHEMA_ONLY_DEFAULTS <= {path for path, _ in defaults}  # no stale entry
