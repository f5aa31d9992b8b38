"""Config checks of the robustness sections: dangling zoo / shift / fit names are clear errors."""

from pathlib import Path

import pytest

from diffusion_classifier.workflow_config import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["shifts"]["digits_adversarial"].update(reference="resnet_e9"), "unknown zoo model 'resnet_e9'"),
        (lambda c: c["robustness"]["fits"]["corrupted"].update(ood_setting="nope"), "unknown zoo setting 'nope'"),
        (lambda c: c["zoo"]["settings"]["digits"].update(dataset="imagenet"), "unknown dataset 'imagenet'"),
        (lambda c: c["experiments"].remove(
            {"dataset": "digits_adversarial", "model": "digits_unet", "strategy": "adaptive"}),
         "add it to 'experiments'"),
        (lambda c: c["shifts"].update(extra={"base": "digits"}), "must also be listed in 'datasets'"),
    ],
)
def test_dangling_robustness_names_are_clear_errors(mini, edit, message):
    edit(mini)
    with pytest.raises(ConfigError, match=message):
        check_config(mini)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: None, r"robustness.fits.corrupted.testbed is missing"),
        (lambda c: [f.update(testbed={"id": "imagenet_val", "ood": "imagenet_b"}) for f in c["robustness"]["fits"].values()],
         "unknown testbed column 'imagenet_b'"),
        (lambda c: [f.update(testbed={"id": "imagenet_val", "ood": "objectnet", "selection": "mine"})
                    for f in c["robustness"]["fits"].values()], "unknown testbed selection 'mine'"),
    ],
)
def test_a_testbed_trend_needs_known_columns_per_fit(mini, edit, message):
    mini["robustness"]["trend"] = {"source": "testbed"}
    edit(mini)
    with pytest.raises(ConfigError, match=message):
        check_config(mini)
