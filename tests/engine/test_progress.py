"""Mid-image resume: an image interrupted after any batch continues to the uninterrupted result."""

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine.progress import PairLog
from diffusion_classifier.engine.sequential import SequentialConfig
from diffusion_classifier.engine import CallablePredictor


class Interrupted(Exception):
    pass


def stop_after(batches):
    def hook(log):
        hook.seen += 1
        if hook.seen == batches:
            raise Interrupted
    hook.seen = 0
    return hook


CONFIGS = {
    "adaptive": dict(schedule=Schedule((4, 16), (3, 1)), batch_size=5),
    "sequential": dict(schedule=Schedule.one_stage(16), batch_size=5,
                       sequential=SequentialConfig(block=2, k=2.0, min_points=4)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_resumed_image_equals_the_uninterrupted_one_and_redoes_nothing(name, prototype_predictor, prototypes, abar):
    counted = []
    predictor = CallablePredictor(
        lambda x_t, t, c: (counted.append(len(x_t)), prototype_predictor.fn(x_t, t, c) + 0.3 * x_t)[1], abar)
    config = ScoringConfig(loss="l2", extra_objectives=("l1",), **CONFIGS[name])
    classifier = DiffusionClassifier(predictor, torch.arange(6), config)
    x0 = 0.55 * prototypes[1] + 0.45 * prototypes[4]
    noise = draw_noise(3, config.schedule.num_noise, tuple(x0.shape))
    reference = classifier.classify(x0, noise)
    total_batches = len(counted)
    assert total_batches > 4

    for cut in (1, 2, total_batches // 2, total_batches - 1, total_batches):
        counted.clear()
        if cut < total_batches:
            log = PairLog(on_batch=stop_after(cut))
            with pytest.raises(Interrupted):
                classifier.classify(x0, noise, log)
        else:  # interrupted after the last batch, before the image was stored
            log = PairLog()
            classifier.classify(x0, noise, log)
        state = log.state()
        assert len(counted) == cut and len(state["condition"]) == sum(counted)
        counted.clear()
        resumed_log = PairLog(state)
        resumed = classifier.classify(x0, noise, resumed_log)
        assert sum(counted) == reference.passes - len(state["condition"])  # no pair evaluated twice
        assert resumed_log.replayed == len(state["condition"])
        for field in ("condition", "grid_index", "timestep", "stage"):
            np.testing.assert_array_equal(getattr(resumed, field), getattr(reference, field))
        for objective in ("l2", "l1"):
            assert resumed.errors[objective].tobytes() == reference.errors[objective].tobytes()
        assert (resumed.kept, resumed.prediction, resumed.passes) == (reference.kept, reference.prediction,
                                                                       reference.passes)


def test_a_state_of_other_pairs_is_refused(prototype_predictor, prototypes):
    config = ScoringConfig(schedule=Schedule.one_stage(8), batch_size=4)
    classifier = DiffusionClassifier(prototype_predictor, torch.arange(6), config)
    x0 = prototypes[0]
    noise = draw_noise(0, 8, tuple(x0.shape))
    log = PairLog()
    classifier.classify(x0, noise, log)
    state = log.state()
    state["grid_index"] = state["grid_index"][::-1].copy()
    with pytest.raises(RuntimeError, match="not the pairs this run evaluates"):
        classifier.classify(x0, noise, PairLog(state))
