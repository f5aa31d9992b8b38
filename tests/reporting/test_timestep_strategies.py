"""Figure 4's timestep strategies on the stored grid: "Even N" and the sliding window "Middle N"."""

import numpy as np
import pytest

from diffusion_classifier.reporting.timestep_figures import even_subsets, window_subsets

GRID = 100  # pets_even's grid: t = 5, 15, ..., 995


@pytest.mark.parametrize("n", range(1, GRID + 1))
def test_even_n_spans_the_whole_grid_evenly_for_every_n(n):
    points = np.array(even_subsets(GRID)[n])
    assert len(points) == n and len(set(points.tolist())) == n and (np.diff(points) > 0).all()
    # N equal parts of the grid, one point in each: the first in the first part, the last in the last.
    assert points[0] < GRID / n and points[-1] >= GRID - GRID / n
    gaps = np.diff(points)
    assert gaps.size == 0 or gaps.max() - gaps.min() <= 1


def test_even_n_is_the_strided_grid_where_n_divides_it():
    assert even_subsets(GRID)[10] == list(range(5, 100, 10))
    assert even_subsets(GRID)[GRID] == list(range(GRID))


@pytest.mark.parametrize("n", [1, 2, 3, 10, 37, 99, 100])
def test_middle_n_is_n_neighbouring_points_around_the_middle(n):
    points = window_subsets(GRID)[n]
    assert points == list(range(points[0], points[0] + n))
    assert abs((points[0] + points[-1]) / 2 - (GRID - 1) / 2) <= 0.5
