"""Fixtures of the engine tests."""

import pytest
import torch


@pytest.fixture
def inputs(prototypes):
    """Ambiguous images (mixtures of two prototypes plus noise), so that pruning matters."""
    g = torch.Generator().manual_seed(5)
    out = []
    for k in range(12):
        a, b = k % 6, (k + 1) % 6
        w = 0.35 + 0.3 * torch.rand((), generator=g)
        out.append((f"img{k:02d}", a, w * prototypes[a] + (1 - w) * prototypes[b]
                    + 0.4 * torch.randn(prototypes[0].shape, generator=g)))
    return out
