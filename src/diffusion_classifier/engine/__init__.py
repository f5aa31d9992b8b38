"""The classification engine: timestep grids and stages, objectives, batched scoring.

It owns its input interface (:mod:`.predictor`, which model adapters implement) and the
result types its loops return (:mod:`.results`), and imports nothing of the models.

The names below load on first use (``lazy_loader``, SPEC 1): the schedule, sequential
and replay modules are torch-free, so the jobs that replay stored errors (Figures 3
and 4, Table 5, the schedule study) and the config specs never import torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "noising": ["forward_noise"],
        "objectives": ["PairBatch", "get_objective", "list_objectives", "register_objective"],
        "predictor": ["CallablePredictor", "NoisePrediction", "NoisePredictor"],
        "schedule": ["Schedule", "Stage", "strided_subgrid", "timestep_grid"],
        "results": ["ImageScores", "NonFiniteErrorsError", "ReplayResult"],
        "scoring": ["DiffusionClassifier", "ScoringConfig", "check_finite", "draw_noise"],
        "seeding": ["image_seed"],
    },
)
