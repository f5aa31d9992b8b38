"""Clopper-Pearson intervals checked against closed forms and scipy's Beta quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta

from diffusion_classifier.robustness import DEFAULT_ALPHA, clopper_pearson


def test_default_alpha_is_the_papers_99_5_percent() -> None:
    assert DEFAULT_ALPHA == 0.005


@pytest.mark.parametrize("n", [1, 10, 7500])
def test_zero_correct_has_lower_bound_exactly_zero(n: int) -> None:
    low, high = clopper_pearson(0, n)
    assert low == 0.0
    # With k = 0 the upper bound solves (1 - p)^n = alpha / 2.
    assert high == pytest.approx(1.0 - (DEFAULT_ALPHA / 2) ** (1.0 / n), rel=1e-12)
    assert high == pytest.approx(beta.ppf(1 - DEFAULT_ALPHA / 2, 1, n), rel=1e-12)


@pytest.mark.parametrize("n", [1, 10, 10000])
def test_all_correct_has_upper_bound_exactly_one(n: int) -> None:
    low, high = clopper_pearson(n, n)
    assert high == 1.0
    assert low == pytest.approx((DEFAULT_ALPHA / 2) ** (1.0 / n), rel=1e-12)


@pytest.mark.parametrize("k,n", [(3, 10), (86, 7500), (9186, 10000)])
def test_interior_matches_beta_quantiles(k: int, n: int) -> None:
    low, high = clopper_pearson(k, n)
    assert low == pytest.approx(beta.ppf(DEFAULT_ALPHA / 2, k, n - k + 1), rel=1e-10)
    assert high == pytest.approx(beta.ppf(1 - DEFAULT_ALPHA / 2, k + 1, n - k), rel=1e-10)
    assert low < k / n < high


def test_alpha_is_honoured() -> None:
    wide = clopper_pearson(30, 100, alpha=0.005)
    narrow = clopper_pearson(30, 100, alpha=0.05)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    assert narrow[0] == pytest.approx(beta.ppf(0.025, 30, 71), rel=1e-10)


def test_arrays_match_scalars() -> None:
    correct = np.array([0, 3, 10])
    total = np.array([10, 10, 10])
    low, high = clopper_pearson(correct, total)
    assert isinstance(low, np.ndarray) and low.shape == (3,)
    for i in range(3):
        assert (low[i], high[i]) == pytest.approx(clopper_pearson(int(correct[i]), int(total[i])))


def test_scalar_returns_floats() -> None:
    low, high = clopper_pearson(5, 10)
    assert isinstance(low, float) and isinstance(high, float)


@pytest.mark.parametrize(
    "correct,total,alpha",
    [(11, 10, 0.005), (-1, 10, 0.005), (1, 0, 0.005), (2.5, 10, 0.005), (1, 10, 0.0), (1, 10, 1.0)],
)
def test_invalid_input_raises(correct, total, alpha) -> None:
    with pytest.raises(ValueError):
        clopper_pearson(correct, total, alpha=alpha)


def test_accuracy_counts_are_the_one_summary_of_outcomes():
    from diffusion_classifier.baselines import accuracy_summary
    from diffusion_classifier.robustness import accuracy_counts

    # Class 0: 3 of 4 right, class 1: 0 of 1 -> top-1 3/5, mean per class (0.75 + 0) / 2.
    fields = accuracy_counts([0, 0, 0, 0, 1], [True, True, True, False, False])
    assert fields["num_images"] == 5 and fields["num_correct"] == 3 and fields["accuracy"] == 0.6
    assert fields["mean_per_class_accuracy"] == 0.375 and fields["classes_present"] == 2
    assert (fields["accuracy_ci_low"], fields["accuracy_ci_high"]) == clopper_pearson(3, 5)
    assert accuracy_summary([0, 0, 0, 0, 1], [0, 0, 0, 1, 0]) == {"status": "ok", "reason": None, **fields}
    with pytest.raises(ValueError, match="one outcome per label"):
        accuracy_counts([0, 1], [True])
