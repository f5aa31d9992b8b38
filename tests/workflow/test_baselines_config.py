"""Config checks of the audit, baselines and table1 sections: dangling names fail clearly."""

from pathlib import Path

import pytest

from diffusion_classifier.workflow_config import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["audit"]["datasets"].append("cifar"), "audit.datasets: unknown dataset 'cifar'"),
        (lambda c: c["baselines"]["zero_shot"]["models"].append("clip_rn51"), "unknown CLIP model 'clip_rn51'"),
        (lambda c: c["baselines"]["clip_models"]["clip_rn50"].update(table1_row="clip"), "unknown Table 1 row"),
        (lambda c: c["baselines"]["clip_models"]["clip_rn50"].update(backend="hub"), "unknown CLIP backend"),
        (lambda c: c["baselines"]["zero_shot"]["prompt_templates"].clear(), "no prompt template for dataset"),
        (lambda c: c["table1"]["diffusion_classifier"]["digits"].update(strategy="even"), "no experiment"),
    ],
)
def test_dangling_names_in_audit_and_baselines(mini, edit, message):
    check_config(mini)
    edit(mini)
    with pytest.raises(ConfigError, match=message):
        check_config(mini)
