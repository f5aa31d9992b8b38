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
