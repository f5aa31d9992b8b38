"""The classification engine: timestep grids and stages, objectives, batched scoring."""

from .noising import forward_noise
from .objectives import PairBatch, get_objective, list_objectives, register_objective
from .schedule import Schedule, Stage, strided_subgrid, timestep_grid
from .scoring import (
    DiffusionClassifier,
    ImageScores,
    NonFiniteErrorsError,
    ScoringConfig,
    check_finite,
    draw_noise,
    image_seed,
)
from . import vlb as _vlb  # registers the learned-variance objectives (vlb, l2_vlb, and in bits)

__all__ = [
    "DiffusionClassifier",
    "ImageScores",
    "NonFiniteErrorsError",
    "PairBatch",
    "Schedule",
    "ScoringConfig",
    "Stage",
    "check_finite",
    "draw_noise",
    "forward_noise",
    "get_objective",
    "image_seed",
    "list_objectives",
    "register_objective",
    "strided_subgrid",
    "timestep_grid",
]
