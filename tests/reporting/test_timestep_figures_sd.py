"""Figures 3 and 4 from a text-conditional (Stable Diffusion) model's stored errors.

At paper scale these figures are SD 2.0 zero-shot on Oxford Pets (paper Sec. 4.1, Figs 3-4):
the even-grid and repeated-timestep runs are prompt-conditioned scoring runs, and the figure
stage must read them like the class-conditional ones.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from diffusion_classifier.stages.score import score_shard
from diffusion_classifier.stages.supervised import figures_timesteps

from helpers.sd_helpers import IMAGE_SIZE, build_sd_checkpoint, write_rgb_dataset
ROOT = Path(__file__).resolve().parents[2]
MODEL = {"adapter": "stable_diffusion", "image": {"size": IMAGE_SIZE, "channels": 3, "resample": "bicubic"}}
SCORING = {"device": "cpu", "batch_size": 12, "seed": 0}
PROMPT = {"template": "a photo of a {}, a type of pet."}


def test_figures_3_and_4_from_stable_diffusion_runs(tmp_path):
    root = tmp_path / "sd2"
    build_sd_checkpoint(root)
    data = write_rgb_dataset(tmp_path / "data")
    even = score_shard(data, root, MODEL, {"evaluations": [4], "keep": [1], "loss": "l1"}, SCORING,
                       tmp_path / "even", prompt=PROMPT)
    repeats = score_shard(data, root, MODEL, {"evaluations": [6], "keep": [1], "loss": "l1",
                                              "timesteps": [0, 500, 999], "noises_per_timestep": 2},
                          SCORING, tmp_path / "repeats", prompt=PROMPT)
    written = figures_timesteps([even], [repeats], "l1", {"500": [500], "0,500,999": [0, 500, 999]},
                                *(tmp_path / "fig" / name for name in (
                                    "fig3_single_timestep.png", "fig3_single_timestep.csv",
                                    "fig4_timestep_strategies.png", "fig4_timestep_strategies.csv")),
                                {"dataset": "oxford_pets", "model": "sd2_base"})
    assert all(path.exists() for path in written)
    fig3 = pd.read_csv(tmp_path / "fig" / "fig3_single_timestep.csv")
    assert set(fig3["source"]) == {"even grid", "repeated timesteps"}
    assert fig3[fig3["source"] == "repeated timesteps"]["noise_draws"].tolist() == [2, 2, 2]
    fig4 = pd.read_csv(tmp_path / "fig" / "fig4_timestep_strategies.csv")
    assert fig4.groupby("strategy")["trials"].apply(list).to_dict() == {
        "0,500,999": [3, 6], "500": [1, 2], "Even N (N timesteps, 1 noise each)": [1, 2, 3, 4],
        "Middle N (N grid points around t = 500, 1 noise each)": [1, 2, 3, 4]}
    assert (fig4["images"] == 6).all()
    # Each point lists its timesteps: a fixed set repeats its timesteps once per noise draw.
    points = fig4.set_index(["strategy", "trials"])["timesteps"]
    assert sorted(int(t) for t in points[("0,500,999", 6)].split(";")) == [0, 0, 500, 500, 999, 999]
    assert points[("Even N (N timesteps, 1 noise each)", 4)].count(";") == 3


def test_paper_figures_3_and_4_are_stable_diffusion_on_pets():
    # Paper Sec. 4.1: "Figure 3. Pets accuracy, evaluating only a single timestep per class".
    config = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    timesteps = config["supervised"]["timesteps"]
    assert (timesteps["dataset"], timesteps["model"]) == ("oxford_pets", "sd2_base")
    assert config["models"][timesteps["model"]]["adapter"] == "stable_diffusion"
    runs = {(r["dataset"], r["model"], r["strategy"]) for r in config["experiments"]}
    for key in ("even", "repeats"):
        assert ("oxford_pets", "sd2_base", timesteps[key]) in runs
        assert config["strategies"][timesteps[key]]["keep"] == [1]          # one stage: every class, every pair
    repeated = config["strategies"][timesteps["repeats"]]
    assert all(t in repeated["timesteps"] for ts in timesteps["sets"].values() for t in ts)
