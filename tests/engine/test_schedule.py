"""The timestep grid, the stages and their pass counts."""

import pytest

from diffusion_classifier.engine import Schedule, timestep_grid

def test_passes_count_every_class_at_stage_one_then_the_kept_ones():
    # Pets (paper.yaml zs_pets): 37 classes x 25, then 5 kept x 225 more = 925 + 1125.
    # The paper config's schedules against the authors' counts: tests/data/test_subsets_and_settings.py.
    assert Schedule((25, 250), (5, 1)).passes(37) == 37 * 25 + 5 * 225


def test_grid_is_evenly_spaced_and_centred():
    assert timestep_grid(1000, 250) == list(range(2, 1000, 4))
    assert timestep_grid(1000, 500)[:3] == [1, 3, 5]
    assert timestep_grid(1000, 1000) == list(range(1000))
    assert timestep_grid(1000, 20) == list(range(25, 1000, 50))


def test_pets_stages_take_a_strided_subgrid_then_the_rest():
    stages = Schedule((25, 250), (5, 1)).stages
    assert stages[0].timesteps == tuple(range(22, 1000, 40))
    assert len(stages[1].grid_indices) == 225
    assert not set(stages[0].grid_indices) & set(stages[1].grid_indices)
    assert set(stages[0].grid_indices) | set(stages[1].grid_indices) == set(range(250))


def test_imagenet_second_stage_misses_the_first_stage_points():
    # The authors' quirk: stage 2's sub-grid (5, 15, ...) does not contain stage 1's (10, 30, ...).
    stages = Schedule((50, 100, 500, 1000), (500, 50, 10, 1)).stages
    assert [len(s.grid_indices) for s in stages] == [50, 100, 400, 450]
    assert stages[0].timesteps[:2] == (10, 30) and stages[1].timesteps[:2] == (5, 15)


def test_one_stage_is_algorithm_one():
    schedule = Schedule.one_stage(20)
    assert schedule.passes(10) == 200 and len(schedule.stages) == 1


@pytest.mark.parametrize(
    "evaluations, keep, message",
    [((10, 20), (1,), "same length"), ((10,), (2,), "exactly 1"), ((10, 20, 30), (2, 3, 1), "increase"),
     ((2000,), (1,), "cannot place")],
)
def test_invalid_schedules_are_clear_errors(evaluations, keep, message):
    with pytest.raises(ValueError, match=message):
        Schedule(evaluations, keep)


def test_survivors_never_exceed_the_class_count():
    assert Schedule((5, 10), (20, 1)).survivors(3) == [3, 3]
    assert Schedule((5, 10), (20, 1)).passes(3) == 3 * 5 + 3 * 5
    with pytest.raises(ValueError, match="empty"):
        Schedule((5,), (1,)).passes(0)


@pytest.mark.parametrize(
    "evaluations, keep",
    [((4, 2), (2, 1)),            # stage 2's sub-grid {1, 3} was all done in stage 1
     ((2, 4, 3), (3, 2, 1)),      # stage 3's points are all done by stages 1 and 2
     ((5, 5), (2, 1))],           # a repeated TrialList entry adds nothing
)
def test_a_stage_with_no_new_grid_point_is_refused(evaluations, keep):
    """The engine cannot run an empty stage: refuse it when the schedule is built."""
    with pytest.raises(ValueError, match=r"adds no grid point"):
        Schedule(evaluations, keep)


@pytest.mark.parametrize("evaluations", [(0, 4), (-1, 4), (2.5, 4)])
def test_evaluation_counts_must_be_positive_whole_numbers(evaluations):
    with pytest.raises(ValueError, match="at least 1|whole numbers"):
        Schedule(evaluations, (2, 1))


def test_keeping_more_classes_than_exist_is_refused():
    schedule = Schedule((50, 500), (50, 1))
    schedule.check_classes(50)
    with pytest.raises(ValueError, match="keeps \\[50\\] of only 37 classes"):
        schedule.check_classes(37)


def test_the_engine_refuses_a_keeplist_larger_than_the_class_list(prototype_predictor):
    import torch

    from diffusion_classifier.engine import DiffusionClassifier, ScoringConfig

    with pytest.raises(ValueError, match="of only 6 classes"):
        DiffusionClassifier(prototype_predictor, torch.arange(6), ScoringConfig(Schedule((4, 16), (8, 1))))
