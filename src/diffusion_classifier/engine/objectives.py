"""Per-pair error objectives: how far a noise prediction is from the true noise.

Each objective maps a batch of evaluated (image, class, timestep, noise) pairs to one
error per pair; the classifier ranks classes by the mean error over pairs. The paper
uses the plain mean squared error without ELBO weighting (Sec. 3.2) and treats l1 vs
l2 as a per-dataset choice (Appendix C). Objectives that need more than the eps
prediction (the variational bound of a model with a learned variance) read the extra
fields of :class:`PairBatch`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .._registry import Registry
from .vlb import vlb_terms

__all__ = ["PairBatch", "Objective", "register_objective", "get_objective", "list_objectives"]


@dataclass(frozen=True)
class PairBatch:
    """Everything an objective may need about a batch of evaluated pairs.

    Attributes:
        x0: Clean (latent) input, ``[B, C, H, W]``.
        x_t: Noised input fed to the model, ``[B, C, H, W]``.
        noise: The true noise ``eps``, ``[B, C, H, W]``.
        eps: The model's noise prediction, float32, ``[B, C, H, W]``.
        timesteps: Timestep of each pair, ``[B]``.
        alphas_cumprod: The model's training schedule ``abar``, ``[T]``, float64.
        variance: The model's raw variance output (e.g. the learned interpolation
            of improved DDPM / DiT), ``[B, C, H, W]``, or ``None`` if it has none.
    """

    x0: torch.Tensor
    x_t: torch.Tensor
    noise: torch.Tensor
    eps: torch.Tensor
    timesteps: torch.Tensor
    alphas_cumprod: torch.Tensor
    variance: torch.Tensor | None = None


Objective = Callable[[PairBatch], torch.Tensor]
OBJECTIVES: Registry[Objective] = Registry("loss/objective")
_NEEDS_VARIANCE: set[str] = set()


def register_objective(name: str, *, needs_variance: bool = False) -> Callable[[Objective], Objective]:
    """Register ``fn(batch) -> errors[B]`` under ``name``."""

    def decorator(fn: Objective) -> Objective:
        OBJECTIVES.add(name, fn)
        if needs_variance:
            _NEEDS_VARIANCE.add(name)
        return fn

    return decorator


def list_objectives() -> list[str]:
    return OBJECTIVES.names()


def needs_variance(name: str) -> bool:
    """Whether objective ``name`` needs a model with a learned variance."""
    get_objective(name)
    return name in _NEEDS_VARIANCE


def get_objective(name: str) -> Objective:
    """Look an objective up by name; unknown names list the known ones."""
    return OBJECTIVES.get(name)


def _per_pair(values: torch.Tensor) -> torch.Tensor:
    return values.flatten(1).mean(dim=1)


@register_objective("l2")
def l2(batch: PairBatch) -> torch.Tensor:
    """Mean squared error over C*H*W (the paper's default)."""
    return _per_pair((batch.eps - batch.noise) ** 2)


@register_objective("l1")
def l1(batch: PairBatch) -> torch.Tensor:
    """Mean absolute error over C*H*W (the paper's choice for CIFAR-10, Pets, ...)."""
    return _per_pair((batch.eps - batch.noise).abs())


@register_objective("huber")
def huber(batch: PairBatch) -> torch.Tensor:
    """Mean Huber (smooth l1, delta 1) error over C*H*W."""
    return _per_pair(F.huber_loss(batch.eps, batch.noise, reduction="none", delta=1.0))


# --- the learned-variance objectives (paper Table 5): the bound's term from :mod:`.vlb`

def _require_variance(batch: PairBatch) -> torch.Tensor:
    if batch.variance is None:
        raise ValueError("the VLB objectives need the model's learned variance, and this batch has none")
    return batch.variance


@register_objective("vlb", needs_variance=True)
def vlb(batch: PairBatch) -> torch.Tensor:
    """The variational-bound term with the learned variance, nats per dimension."""
    return vlb_terms(batch.x0, batch.x_t, batch.eps, _require_variance(batch), batch.timesteps,
                     batch.alphas_cumprod).float()


@register_objective("l2_vlb", needs_variance=True)
def l2_vlb(batch: PairBatch) -> torch.Tensor:
    """``l2 + vlb``: the paper's third objective of Table 5 (both per dimension)."""
    return l2(batch) + vlb(batch)


@register_objective("vlb_bits", needs_variance=True)
def vlb_bits(batch: PairBatch) -> torch.Tensor:
    """The variational-bound term in bits per dimension (``vlb / log 2``), the authors' unit."""
    return vlb(batch) / math.log(2.0)


@register_objective("l2_vlb_bits", needs_variance=True)
def l2_vlb_bits(batch: PairBatch) -> torch.Tensor:
    """``l2 + vlb_bits``: Table 5's L2+VLB as the authors' release computes it (mse + kl in bits)."""
    return l2(batch) + vlb_bits(batch)
