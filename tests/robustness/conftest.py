"""Shared data for the robustness tests: published ImageNet-1k ResNet accuracies.

Top-1 accuracies in percent published by the robustness testbed of Taori et al. (2020), columns:
val, ImageNetV2 matched-frequency, val on the 200 ImageNet-A classes, ImageNet-A,
val on the ObjectNet classes, ObjectNet.
"""

from __future__ import annotations

import pytest

PUBLISHED_RESNETS: dict[str, tuple[float, float, float, float, float, float]] = {
    "resnet18": (69.76, 57.31, 87.39, 1.15, 71.47, 26.74),
    "resnet34": (73.31, 60.87, 89.95, 1.87, 76.48, 30.99),
    "resnet50": (76.13, 63.21, 91.86, 0.00, 78.86, 35.75),
    "resnet101": (77.37, 65.45, 92.80, 4.72, 80.29, 38.38),
    "resnet152": (78.31, 66.84, 93.31, 6.05, 81.60, 40.07),
}
COLUMNS = ("val", "v2", "val_a", "a", "val_objectnet", "objectnet")
RESNET50_A_PIVOT = 0.9186


@pytest.fixture
def resnets() -> dict[str, dict[str, float]]:
    """``{model: {column: accuracy as a fraction}}`` for the five published ResNets."""
    return {
        model: {col: value / 100.0 for col, value in zip(COLUMNS, values)}
        for model, values in PUBLISHED_RESNETS.items()
    }
