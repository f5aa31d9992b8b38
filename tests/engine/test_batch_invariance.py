"""Batch invariance: with ``forward_rows`` a pair's error does not depend on what shares its batch.

Real tiny networks (a UNet and a DiT, as the embedded default trains them) score the
same pairs at several batch sizes, packed across images, and under adaptive and
sequential schedules; every pair's error must be byte-identical to the one-stage run's.
Without a fixed forward shape these differ in the last bits, and by how much depends on
the CPU (on an AVX-512 Xeon: a batch of 1 and one of 50 give other bytes for every pair
of the tiny UNet), so the checks hold on every machine only through ``forward_rows``.
"""

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.sequential import SequentialConfig
from diffusion_classifier.models import load_predictor
from diffusion_classifier.models.architectures import build_architecture

CLASSES = 6
GRID = 12
ROWS = 8


@pytest.fixture(scope="module", params=["tiny_unet", "tiny_dit"])
def predictor(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    network = build_architecture(request.param, num_classes=CLASSES, sample_size=8, in_channels=1,
                                 **({"block_out_channels": (8, 16)} if request.param == "tiny_unet" else
                                    {"num_layers": 2}))
    network.save_pretrained(root / ("transformer" if request.param == "tiny_dit" else "unet"))
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(root / "scheduler")
    return load_predictor("class_conditional", root)


def images(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    return [(torch.randn(1, 8, 8, generator=generator), draw_noise(100 + k, GRID, (1, 8, 8))) for k in range(n)]


def by_pair(scores) -> dict[tuple[int, int], bytes]:
    """(class, grid index) -> the bytes of every objective's error of that pair."""
    return {(int(c), int(g)): b"".join(scores.errors[name][i].tobytes() for name in sorted(scores.errors))
            for i, (c, g) in enumerate(zip(scores.condition, scores.grid_index))}


def classifier(predictor, batch_size: int, **config) -> DiffusionClassifier:
    config.setdefault("schedule", Schedule.one_stage(GRID))
    objectives = ("vlb",) if predictor.learns_variance else ("l1",)
    return DiffusionClassifier(predictor, predictor.conditioning(list(range(CLASSES))),
                               ScoringConfig(batch_size=batch_size, forward_rows=ROWS, extra_objectives=objectives,
                                             **config))


def test_every_batch_size_gives_the_same_bytes(predictor):
    x0, noise = images(1)[0]
    reference = by_pair(classifier(predictor, CLASSES * GRID).classify(x0, noise))
    assert len(reference) == CLASSES * GRID
    for batch_size in (1, 5, ROWS, 13, 50):
        assert by_pair(classifier(predictor, batch_size).classify(x0, noise)) == reference, batch_size


def test_packed_adaptive_and_sequential_runs_give_the_one_stage_bytes(predictor):
    pairs = images(3)
    one_stage = [by_pair(classifier(predictor, 16).classify(x0, noise)) for x0, noise in pairs]
    runs = {
        "packed": classifier(predictor, 16).classify_packed(pairs),
        "adaptive": [classifier(predictor, 7, schedule=Schedule((4, GRID), (2, 1))).classify(*p) for p in pairs],
        "adaptive packed": classifier(predictor, 11, schedule=Schedule((3, 6, GRID), (4, 2, 1))).classify_packed(pairs),
        "sequential": [classifier(predictor, 16, sequential=SequentialConfig(block=1, k=1.0, min_points=2))
                       .classify(*p) for p in pairs],
    }
    for name, scored in runs.items():
        for reference, scores in zip(one_stage, scored):
            errors = by_pair(scores)
            assert errors and all(errors[pair] == reference[pair] for pair in errors), name
    assert any(len(by_pair(s)) < CLASSES * GRID for s in runs["adaptive"])  # the schedule did prune


def test_forward_rows_is_checked():
    with pytest.raises(ValueError, match="forward_rows"):
        ScoringConfig(Schedule.one_stage(4), forward_rows=0)
    assert ScoringConfig(Schedule.one_stage(4), forward_rows=ROWS).to_dict()["forward_rows"] == ROWS
    assert "forward_rows" not in ScoringConfig(Schedule.one_stage(4)).to_dict()
