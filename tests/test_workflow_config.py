"""Config validation: the schema catches misspelt keys, check_config dangling names (one table)."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from diffusion_classifier.workflow_config import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")


def test_shipped_configs_are_valid(mini):
    for config in (mini, *(yaml.safe_load((ROOT / name).read_text()) for name in ("tests/configs/micro.yaml",
                                                                                    "config/paper.yaml"))):
        validate(config, schema=SCHEMA)
        check_config(config)


def test_misspelt_key_fails_validation(mini):
    mini["strategies"]["even25"]["evaluation"] = [5]
    with pytest.raises(Exception, match="evaluation"):
        validate(mini, schema=SCHEMA)


def _testbed_trend(fit: dict | None = None):
    """Edit: the Figure 6 trend from the testbed, with ``fit`` as every fit's testbed columns."""
    def edit(config):
        config["robustness"]["trend"] = {"source": "testbed"}
        for spec in config["robustness"]["fits"].values() if fit else ():
            spec.update(testbed=fit)
    return edit


def _conditional(calibration: dict | None, file: str | None = None):
    """Edit: experiment 0's strategy becomes a conditional sequential test, with this calibration set."""
    def edit(config):
        config["strategies"]["even25"]["sequential"] = {"test": "conditional", "min_points": 1,
                                                        **({"calibration": file} if file else {})}
        if calibration is not None:
            config["experiments"][0]["calibration"] = calibration
    return edit


# One row per mistake check_config must catch: (config edit, the error's message).
CONFIG_ERRORS = [
    # experiments, models, strategies
    (lambda c: c["experiments"].append({"dataset": "digits", "model": "nope", "strategy": "even25"}),
     "unknown model 'nope'"),
    (lambda c: c["datasets"]["digits"].update(source="imagenet_typo"), "unknown dataset source"),
    (lambda c: c["models"]["digits_unet"].update(adapter="nope"), "unknown model adapter"),
    (lambda c: c["models"]["digits_unet"].pop("train"), "either a 'checkpoint'"),
    (lambda c: c["strategies"]["even25"].update(keep=[2]), "exactly 1 class"),
    (lambda c: c["strategies"]["even25"].update(loss="l3"), "loss: 'l3' is not one of"),
    # values of the wrong type or out of range in the sections whose keys are a library's (issue 22)
    (lambda c: c["datasets"]["digits"]["options"].update(colour=1), r"datasets.digits.options: unknown option"),
    (lambda c: c["datasets"]["digits"]["options"].update(image_size="16"), r"options.image_size: '16' is not a whole"),
    (lambda c: c["datasets"]["digits"]["options"].update(seed=True), r"options.seed: True is not a whole number"),
    (lambda c: c["models"]["digits_unet"]["train"].update(steps="1200"), r"train.steps: '1200' is not a whole"),
    (lambda c: c["models"]["digits_unet"]["train"].update(learning_rate=True), r"learning_rate: True is not a number"),
    (lambda c: c["models"]["digits_unet"]["train"].update(batch_size=0), r"train.batch_size: 0 must be at least 1"),
    (lambda c: c["models"]["digits_unet"]["train"]["architecture_kwargs"].update(learned_variance="true"),
     r"architecture_kwargs.learned_variance: 'true' is not true or false"),
    (lambda c: c["models"]["digits_unet"]["train"]["architecture_kwargs"].update(widths=3), "unknown option"),
    (lambda c: c["contrastive"]["train"].update(steps="200"), r"contrastive.train.steps: '200' is not a whole"),
    # a sequential run's calibration
    (lambda c: c["experiments"][0].update(calibration={"split": "train", "images": 20}),
     r"experiments\[0\].calibration: strategy 'even25' has no sequential test: conditional"),
    (_conditional({"split": "test", "images": 20}), "is the split the experiment classifies"),
    (_conditional(None), r"needs a calibration: add calibration: \{split: train, images: 20\}"),
    (_conditional({"split": "train", "images": 20}, file="cal.json"), "already names a calibration file"),
    # zero-shot and compositional
    (lambda c: c["datasets"]["digits"].pop("prompt_template"), "needs a prompt_template"),
    (lambda c: c["datasets"]["digits"].update(prompt_template="a picture"), "exactly one"),
    (lambda c: c["compositional"][0].update(strategy="adaptive"), "one-stage strategy"),
    (lambda c: c["compositional"][0].update(model="digits_unet"), "not text-conditional"),
    (lambda c: c["compositional"][0].update(dataset="nope"), "unknown dataset 'nope'"),
    (lambda c: c["datasets"]["digit_captions"]["options"].update(seed=1), "test digits leak into training"),
    # audit, baselines, table1
    (lambda c: c["audit"]["datasets"].append("cifar"), "audit.datasets: unknown dataset 'cifar'"),
    (lambda c: c["baselines"]["zero_shot"]["models"].append("clip_rn51"), "unknown CLIP model 'clip_rn51'"),
    (lambda c: c["baselines"]["clip_models"]["clip_rn50"].update(table1_row="clip"), "unknown Table 1 row"),
    (lambda c: c["baselines"]["clip_models"]["clip_rn50"].update(backend="hub"), "unknown CLIP backend"),
    (lambda c: c["baselines"]["zero_shot"]["prompt_templates"].clear(), "no prompt template for dataset"),
    (lambda c: c["table1"]["diffusion_classifier"]["digits"].update(strategy="even"), "no experiment"),
    # robustness: zoo, shifts, fits
    (lambda c: c["shifts"]["digits_adversarial"].update(reference="resnet_e9"), "unknown zoo model 'resnet_e9'"),
    (lambda c: c["robustness"]["fits"]["corrupted"].update(ood_setting="nope"), "unknown zoo setting 'nope'"),
    (lambda c: c["zoo"]["settings"]["digits"].update(dataset="imagenet"), "unknown dataset 'imagenet'"),
    (lambda c: c["zoo"]["settings"]["digits"].update(classes_from="nope"),
     r"zoo.settings.digits.classes_from: unknown dataset 'nope'"),
    (lambda c: c["experiments"][0].update(strategy="nope"), r"experiments\[0\].strategy: unknown strategy 'nope'"),
    (lambda c: c["experiments"].remove(
        {"dataset": "digits_adversarial", "model": "digits_unet", "strategy": "adaptive"}),
     "add it to 'experiments'"),
    (lambda c: c["shifts"].update(extra={"base": "digits"}), "must also be listed in 'datasets'"),
    (_testbed_trend(), r"robustness.fits.corrupted.testbed is missing"),
    (_testbed_trend({"id": "imagenet_val", "ood": "imagenet_b"}), "unknown testbed column 'imagenet_b'"),
    (_testbed_trend({"id": "imagenet_val", "ood": "objectnet", "selection": "mine"}),
     "unknown testbed selection 'mine'"),
]


def test_every_reference_of_the_table_reads_names_of_the_shipped_configs():
    # A path with a typo would silently check nothing: each one finds names in the
    # shipped configs, or is exercised by a CONFIG_ERRORS row.
    from diffusion_classifier.workflow_config import REFERENCES, _containers, _names

    configs = [yaml.safe_load((ROOT / p).read_text()) for p in ("config/mini.yaml", "config/paper.yaml",
                                                                "tests/configs/micro.yaml")]
    unread = [r.path for r in REFERENCES
              if not any(isinstance(box, dict) and any(True for _ in _names(r, box, where))
                         for config in configs for where, box in _containers(config, r.path.split(".")[:-1], ""))]
    assert unread == ["zoo.settings.*.classes_from"]


@pytest.mark.parametrize("edit, message", CONFIG_ERRORS)
def test_config_mistakes_are_clear_errors(mini, edit, message):
    check_config(mini)
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


def test_registry_facts_of_the_workflow_are_read_from_their_homes():
    """The facts the Snakefile reads (prompt adapters, audit weight files, the authors' prompt
    tables) follow their registries: an adapter or weight file registered before the import
    shows up, with no torch imported."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from diffusion_classifier.audit.weights import WeightsSpec, register_weights\n"
        "from diffusion_classifier.models.registry import register_adapter\n"
        "from diffusion_classifier.models import released_prompts\n"
        "register_adapter('prompted', None, None, uses_prompts=True)\n"
        "register_adapter('plain', None, None)\n"
        "register_weights(WeightsSpec('extra', 'extra.safetensors', 'https://example.org', None, 'safetensors', ''))\n"
        "from diffusion_classifier import workflow_config as w\n"
        "assert w.PROMPT_ADAPTERS == {'stable_diffusion', 'prompted'}, w.PROMPT_ADAPTERS\n"
        "assert w.AUDIT_WEIGHT_FILES[-1] == 'extra.safetensors', w.AUDIT_WEIGHT_FILES\n"
        "assert w.AUTHORS_PROMPTS_URL is released_prompts.AUTHORS_PROMPTS_URL\n"
        "assert 'torch' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
