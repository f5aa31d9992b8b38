"""Figure 2 (shared noise across conditions): the errors, their statistics, the stage."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from diffusion_classifier.data import prepare_dataset
from diffusion_classifier.reporting.noise_pairing import normalize_errors, pairing_statistics
from diffusion_classifier.stages.noise_pairing import error_curves, figure_noise_pairing

# tests/stages has no __init__: pytest puts this folder on sys.path.
from test_score_shard import MODEL, tiny_checkpoint


def test_statistics_separate_the_shared_noise_term():
    # error = n_i(t) + m_c(t): the noise term is shared by both conditions, so the
    # difference does not vary across noises at all, while the error does.
    rng = np.random.default_rng(0)
    timesteps, noises = np.arange(0, 1000, 100), 4
    shared = rng.normal(0, 3.0, size=(noises, len(timesteps)))
    own = {"cat": np.linspace(1, 2, len(timesteps)), "dog": np.linspace(2, 3, len(timesteps))}
    frame = pd.DataFrame([{"noise": i, "timestep": t, "condition": c, "error": shared[i, k] + own[c][k]}
                          for i in range(noises) for k, t in enumerate(timesteps) for c in own])
    stats = pairing_statistics(frame)
    expected = shared.std(axis=0, ddof=1).mean()
    assert stats["error_std_across_noises"] == pytest.approx({"cat": expected, "dog": expected})
    assert stats["difference_std_across_noises"] == pytest.approx(0.0, abs=1e-9)
    assert stats["first_wins"] == 1.0 and stats["conditions"] == ["cat", "dog"]
    normalized = normalize_errors(frame)
    assert np.allclose(normalized.groupby("timestep")["normalized"].mean(), 0.0)
    with pytest.raises(ValueError, match="exactly two conditions"):
        pairing_statistics(frame.assign(condition="cat"))


def test_error_curves_hold_each_noise_fixed_and_match_the_closed_form(prototype_predictor, prototypes, abar):
    x0 = prototypes[2] + 0.3
    noises = torch.randn(3, *x0.shape, generator=torch.Generator().manual_seed(1))
    frame = error_curves(prototype_predictor, x0, torch.tensor([2, 4]), ["own", "other"], noises, evaluations=50)
    assert len(frame) == 3 * 50 * 2 and sorted(frame["noise"].unique()) == [0, 1, 2]
    for name, k in (("own", 2), ("other", 4)):
        part = frame[frame["condition"] == name]
        t = torch.tensor(part["timestep"].to_numpy())
        expected = (abar[t] / (1 - abar[t])).numpy() * float(((x0 - prototypes[k]) ** 2).mean())
        np.testing.assert_allclose(part["error"].to_numpy(), expected, rtol=1e-4)


def test_stage_writes_the_figure_its_errors_and_statistics(tmp_path):
    data = prepare_dataset("sklearn_digits", tmp_path / "digits", image_size=8, max_per_split=10)
    checkpoint = tiny_checkpoint(tmp_path / "model", num_classes=10)
    spec = {"dataset": "digits", "model": "tiny", "classes": ["3", "8"], "noises": 2, "evaluations": 10,
            "device": "cpu"}
    summary = figure_noise_pairing(
        data, checkpoint, MODEL, spec, *[tmp_path / f"fig2.{x}" for x in ("png", "csv", "json")]
    )
    frame = pd.read_csv(tmp_path / "fig2.csv")
    assert len(frame) == 2 * 10 * 2 and summary["passes"] == 40
    assert (tmp_path / "fig2.png").stat().st_size > 0
    stored = json.loads((tmp_path / "fig2.json").read_text())
    assert stored["label"] == "3" and stored["conditions"] == ["3", "8"] and stored["image_id"] == summary["image_id"]
    # Each noise is the same across timesteps: rerunning gives the same errors.
    again = figure_noise_pairing(
        data, checkpoint, MODEL, spec, *[tmp_path / f"again.{x}" for x in ("png", "csv", "json")]
    )
    assert again["difference_std_across_noises"] == summary["difference_std_across_noises"]
    with pytest.raises(ValueError, match="not classes of"):
        figure_noise_pairing(
            data,
            checkpoint,
            MODEL,
            {**spec, "classes": ["3", "eight"]},
            *[tmp_path / f"bad.{x}" for x in ("png", "csv", "json")],
        )
    assert not (tmp_path / "bad.csv").exists()
