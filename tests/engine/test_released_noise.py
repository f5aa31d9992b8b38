"""paper.yaml's DiT and Winoground strategies draw the authors' noise tensors (seed 42), pair for pair."""

from pathlib import Path

import pytest
import torch
import yaml

from diffusion_classifier.engine import draw_noise, image_seed
from diffusion_classifier.specs import ScoringSpec, StrategySpec, from_dict

ROOT = Path(__file__).resolve().parents[2]


def _config(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def _released_noise(image_size):
    """scripts/save_noise.py of the authors' release (e9f772d7), verbatim but for the global RNG's state."""
    with torch.random.fork_rng():
        torch.manual_seed(42)
        return torch.randn(1024, 4, image_size // 8, image_size // 8)


@pytest.mark.parametrize("strategy, image_size", [("dit250", 256), ("dit250", 512), ("winoground_all", 512)])
def test_paper_strategies_draw_the_released_noise_row_j_for_grid_point_j(strategy, image_size):
    paper = _config("paper.yaml")
    spec = from_dict(StrategySpec, paper["strategies"][strategy], strategy)
    scoring = from_dict(ScoringSpec, paper["scoring"], "scoring")
    schedule = spec.schedule()
    assert list(schedule.grid) == sorted(schedule.grid)  # row j belongs to the j-th timestep, ascending
    seeds = {scoring.noise_seed(image, spec) for image in ("a", "b/c")}
    assert seeds == {42}  # shared by every image
    latent = (4, image_size // 8, image_size // 8)
    ours = draw_noise(seeds.pop(), schedule.num_noise, latent)
    assert torch.equal(ours, _released_noise(image_size)[:schedule.num_noise])


def test_the_embedded_default_keeps_its_per_image_noise():
    mini = _config("mini.yaml")
    scoring = from_dict(ScoringSpec, mini["scoring"], "scoring")
    for name, raw in mini["strategies"].items():
        spec = from_dict(StrategySpec, raw, name)
        assert spec.noise_seed is None
        expected = scoring.seed if scoring.shares_noise(spec) else image_seed(scoring.seed, "img-1")
        assert scoring.noise_seed("img-1", spec) == expected


def test_a_released_seed_cannot_be_per_image_nor_outgrow_the_noise_file():
    with pytest.raises(ValueError, match="shared by every image"):
        StrategySpec(evaluations=[10], noise_seed=42, share_noise_across_images=False)
    with pytest.raises(ValueError, match="1024 rows"):
        StrategySpec(evaluations=[1000, 2000], keep=[5, 1], noise_seed=42)
