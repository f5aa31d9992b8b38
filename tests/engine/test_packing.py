"""Batches packed across images: the same pairs, errors and decisions as one image at a time."""

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.progress import PairLog
from diffusion_classifier.engine.sequential import SequentialConfig
from diffusion_classifier.engine import CallablePredictor

CONFIGS = {
    "adaptive": dict(schedule=Schedule((4, 16), (2, 1))),
    "three stages": dict(schedule=Schedule((2, 6, 16), (4, 2, 1))),
    "sequential": dict(schedule=Schedule.one_stage(16), sequential=SequentialConfig(block=1, k=1.0, min_points=2)),
}


@pytest.fixture
def counted(prototype_predictor, abar):
    sizes = []
    predictor = CallablePredictor(lambda x_t, t, c: (sizes.append(len(x_t)),
                                                     prototype_predictor.fn(x_t, t, c) + 0.3 * x_t)[1], abar)
    return predictor, sizes


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_packed_images_get_the_errors_and_decisions_of_unpacked_ones(name, counted, inputs):
    predictor, sizes = counted
    config = ScoringConfig(loss="l2", extra_objectives=("l1",), batch_size=16, **CONFIGS[name])
    classifier = DiffusionClassifier(predictor, torch.arange(6), config)
    pairs = [(x, draw_noise(n, config.schedule.num_noise, tuple(x.shape))) for n, (_, _, x) in enumerate(inputs)]
    alone = [classifier.classify(x, noise) for x, noise in pairs]
    alone_sizes = list(sizes)
    sizes.clear()
    packed = classifier.classify_packed(pairs)
    assert sum(sizes) == sum(s.passes for s in alone)  # every pair once
    assert len(sizes) < len(alone_sizes)  # fuller batches: short ones only once few images are left
    assert sum(s < 16 for s in sizes) < sum(s < 16 for s in alone_sizes) / 2
    for a, p in zip(alone, packed):
        for field in ("condition", "grid_index", "timestep", "stage"):
            np.testing.assert_array_equal(getattr(p, field), getattr(a, field))
        for objective in ("l2", "l1"):
            assert p.errors[objective].tobytes() == a.errors[objective].tobytes()
        assert (p.kept, p.prediction, p.passes) == (a.kept, a.prediction, a.passes)


def test_packed_images_resume_from_their_logs(counted, inputs):
    predictor, sizes = counted
    config = ScoringConfig(Schedule((4, 16), (2, 1)), batch_size=10)
    classifier = DiffusionClassifier(predictor, torch.arange(6), config)
    pairs = [(x, draw_noise(n, 16, tuple(x.shape))) for n, (_, _, x) in enumerate(inputs[:4])]
    reference = classifier.classify_packed(pairs)
    logs = [PairLog() for _ in pairs]
    for x_noise, log in zip(pairs[:2], logs[:2]):  # two images were half done by an earlier attempt
        classifier.classify(*x_noise, log)
    states = [log.state() for log in logs[:2]]
    partial = [PairLog({k: v[: len(v) // 2] for k, v in s.items()}) for s in states] + [PairLog(), PairLog()]
    sizes.clear()
    resumed = classifier.classify_packed(pairs, partial)
    assert sum(sizes) == sum(s.passes for s in reference) - sum(len(s["condition"]) // 2 for s in states)
    for a, b in zip(reference, resumed):
        assert a.errors["l2"].tobytes() == b.errors["l2"].tobytes() and a.kept == b.kept
