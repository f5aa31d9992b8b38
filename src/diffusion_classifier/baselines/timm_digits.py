"""Tiny timm architectures for the embedded zoo: a linear probe, an MLP and a convnet.

They are registered in timm's own model registry (as timm registers its ``test_*``
models), so the embedded zoo and the paper-scale zoo go through the same
``timm.create_model(name, ...)`` path; every member of the embedded zoo is a timm
name. Importing this module registers them; :mod:`.zoo` imports it lazily.
"""

from __future__ import annotations

import torch
from timm.models import register_model
from torch import nn

__all__ = ["DigitsLinear", "DigitsMLP", "DigitsCNN"]


class _Classifier(nn.Module):
    """Common timm-facing surface: ``num_classes``, ``pretrained_cfg``, ``forward``."""

    def __init__(self, num_classes: int, in_chans: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans


class DigitsLinear(_Classifier):
    """Multinomial logistic regression on the pixels (the weakest zoo member)."""

    def __init__(self, num_classes: int = 10, in_chans: int = 1, img_size: int = 16, **_: object) -> None:
        super().__init__(num_classes, in_chans)
        self.head = nn.Linear(in_chans * img_size * img_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.flatten(1))


class DigitsMLP(_Classifier):
    """Two hidden ReLU layers of ``width`` units on the flattened pixels."""

    def __init__(self, num_classes: int = 10, in_chans: int = 1, img_size: int = 16, width: int = 128,
                 **_: object) -> None:
        super().__init__(num_classes, in_chans)
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(in_chans * img_size * img_size, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
        )
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class DigitsCNN(_Classifier):
    """Two conv-BN-ReLU-pool blocks (``width``, ``2 * width`` channels), global pooling."""

    def __init__(self, num_classes: int = 10, in_chans: int = 1, width: int = 16, **_: object) -> None:
        super().__init__(num_classes, in_chans)

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True))

        self.body = nn.Sequential(block(in_chans, width), block(width, 2 * width),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(2 * width * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _no_weights(name: str, pretrained: bool) -> None:
    if pretrained:
        raise ValueError(f"timm model {name!r} has no pretrained weights: it is trained by the pipeline "
                         "(set pretrained: false and give a 'train' section)")


@register_model
def digits_linear(pretrained: bool = False, **kwargs) -> DigitsLinear:
    """Linear classifier on raw pixels."""
    _no_weights("digits_linear", pretrained)
    return DigitsLinear(**kwargs)


@register_model
def digits_mlp(pretrained: bool = False, **kwargs) -> DigitsMLP:
    """Two-hidden-layer MLP on raw pixels."""
    _no_weights("digits_mlp", pretrained)
    return DigitsMLP(**kwargs)


@register_model
def digits_cnn(pretrained: bool = False, **kwargs) -> DigitsCNN:
    """Two-block convnet."""
    _no_weights("digits_cnn", pretrained)
    return DigitsCNN(**kwargs)
