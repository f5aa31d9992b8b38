"""``batch_size: auto``: sized from a (fake) memory probe, halved on out-of-memory, same errors."""

import logging

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine import batching
from diffusion_classifier.engine import CallablePredictor

SCHEDULE = Schedule((8, 32), (3, 1))


class FakeMemory:
    """``free`` bytes free; a trial batch costs ``per_input`` bytes per input."""

    def __init__(self, free, per_input):
        self.free, self.per_input, self.trials = free, per_input, []

    def free_bytes(self, device):
        return self.free

    def peak_bytes(self, device, run):
        before = len(calls)
        run()
        self.trials.append(sum(calls[before:]))
        return self.per_input * self.trials[-1]


calls: list[int] = []


@pytest.fixture
def limited(prototype_predictor, abar):
    """The prototype predictor, out of memory above ``limited.capacity`` inputs per pass."""
    def fn(x_t, t, c):
        if len(x_t) > fn.capacity:
            raise torch.OutOfMemoryError(f"CUDA out of memory: {len(x_t)} inputs")
        calls.append(len(x_t))
        return prototype_predictor.fn(x_t, t, c) + 0.2 * x_t
    fn.capacity = 10**9
    calls.clear()
    predictor = CallablePredictor(fn, abar)
    predictor.capacity = fn
    return predictor


def scores(predictor, batch_size, x0):
    classifier = DiffusionClassifier(predictor, torch.arange(6),
                                     ScoringConfig(SCHEDULE, batch_size=batch_size, extra_objectives=("l1",)))
    out = classifier.classify(x0, draw_noise(1, SCHEDULE.num_noise, tuple(x0.shape)))
    return classifier, out


def same(a, b):
    assert (a.kept, a.prediction, a.passes) == (b.kept, b.prediction, b.passes)
    np.testing.assert_array_equal(a.condition, b.condition)
    for name in a.errors:
        np.testing.assert_array_equal(a.errors[name], b.errors[name])


def test_auto_on_a_device_without_a_probe_is_the_fixed_default(limited, prototypes):
    classifier, auto = scores(limited, "auto", prototypes[2])
    assert classifier.batch_size == batching.AutoBatch().fixed
    same(auto, scores(limited, batching.AutoBatch().fixed, prototypes[2])[1])
    assert ScoringConfig(SCHEDULE, batch_size="auto").to_dict()["batch_size"] == "auto"


def test_auto_fills_the_free_memory(limited, prototypes, monkeypatch):
    probe = FakeMemory(free=5000, per_input=100)
    monkeypatch.setitem(batching.MEMORY_PROBES, "cpu", probe)
    classifier, auto = scores(limited, "auto", prototypes[2])
    assert probe.trials == [batching.AutoBatch().trial]
    assert classifier.batch_size == int(0.8 * 5000 // 100) == 40
    same(auto, scores(limited, 40, prototypes[2])[1])


def test_out_of_memory_halves_the_batch_and_gives_the_same_errors(limited, prototypes, monkeypatch, caplog):
    monkeypatch.setitem(batching.MEMORY_PROBES, "cpu", FakeMemory(free=10**12, per_input=1))
    limited.capacity.capacity = 20
    with caplog.at_level(logging.WARNING):
        classifier, auto = scores(limited, "auto", prototypes[4])
    assert classifier.batch_size == batching.AutoBatch().maximum // 2**7 == 16  # 2048 -> 16: first fit <= 20
    assert "retrying with 16 inputs per batch" in caplog.text
    assert max(calls) <= 20
    same(auto, scores(limited, 16, prototypes[4])[1])


def test_a_fixed_batch_size_that_does_not_fit_is_an_error(limited, prototypes):
    limited.capacity.capacity = 20
    with pytest.raises(torch.OutOfMemoryError):
        scores(limited, 32, prototypes[0])


@pytest.mark.parametrize("bad", [0, -3, "big", 2.5, True])
def test_bad_batch_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer or 'auto'"):
        ScoringConfig(SCHEDULE, batch_size=bad)


def test_packed_images_halve_on_out_of_memory_too(limited, prototypes, monkeypatch):
    monkeypatch.setitem(batching.MEMORY_PROBES, "cpu", FakeMemory(free=10**12, per_input=1))
    limited.capacity.capacity = 20
    inputs = [(prototypes[i], draw_noise(i, SCHEDULE.num_noise, tuple(prototypes[i].shape))) for i in range(3)]
    config = ScoringConfig(SCHEDULE, batch_size="auto", extra_objectives=("l1",))
    classifier = DiffusionClassifier(limited, torch.arange(6), config)
    packed = classifier.classify_packed(inputs)
    assert classifier.batch_size == 16 and max(calls) <= 20
    fixed = DiffusionClassifier(limited, torch.arange(6), ScoringConfig(SCHEDULE, batch_size=16, extra_objectives=("l1",)))
    for (x0, noise), scores in zip(inputs, packed):
        same(scores, fixed.classify(x0, noise))
