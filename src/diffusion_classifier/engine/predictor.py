"""The one interface the engine sees: a conditional noise predictor.

The engine owns it (adapters in :mod:`diffusion_classifier.models` implement it), so the
engine imports nothing of the models that plug into it.

A :class:`NoisePredictor` wraps a concrete diffusion model (a diffusers
class-conditional UNet, a DiT, Stable Diffusion, or a plain function) behind
``predict(x_t, timesteps, conditions) -> NoisePrediction``. Conditions are rows of
a *conditioning table* that the adapter builds once per run (class ids for
class-conditional models, prompt embeddings for text-conditional ones); the engine
only gathers rows of that table, so adding a new kind of conditioning never touches
the engine.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["NoisePrediction", "NoisePredictor", "CallablePredictor"]


@dataclass(frozen=True)
class NoisePrediction:
    """A model's output for a batch.

    Attributes:
        eps: Predicted noise, shaped like ``x_t``.
        variance: The model's raw learned-variance output shaped like ``x_t`` (the
            interpolation ``v`` of improved DDPM / DiT, in [-1, 1]), or ``None``.
    """

    eps: torch.Tensor
    variance: torch.Tensor | None = None


class NoisePredictor(abc.ABC):
    """A conditional noise predictor eps_theta(x_t, t, c).

    Attributes:
        alphas_cumprod: The model's training schedule ``abar_t`` (float64, CPU),
            taken from its own scheduler; the sampler class is irrelevant.
        model_id: Name of the weights (hub id or local path), recorded in artifacts.
        device: Where :meth:`predict` runs.
        dtype: Dtype of the model's inputs.
    """

    alphas_cumprod: torch.Tensor
    model_id: str = "unnamed"
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    learns_variance: bool = False

    @property
    def num_train_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Map images in [-1, 1] to the space the model denoises (identity for pixels)."""
        return images

    @abc.abstractmethod
    def predict(
        self, x_t: torch.Tensor, timesteps: torch.Tensor, conditions: torch.Tensor
    ) -> NoisePrediction:
        """Predict the noise in ``x_t`` for each row's timestep and condition row."""

    def weights_hash(self) -> str:
        """A content hash of the weights, for provenance ("" if unknown)."""
        return ""


class CallablePredictor(NoisePredictor):
    """Any Python function ``fn(x_t, timesteps, conditions) -> eps`` as a predictor.

    Useful for tests (a predictor whose error is known in closed form) and for
    models that need no adapter of their own.
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
        alphas_cumprod: torch.Tensor,
        model_id: str = "callable",
    ) -> None:
        self.fn = fn
        self.alphas_cumprod = alphas_cumprod.detach().to("cpu", torch.float64)
        self.model_id = model_id

    def predict(self, x_t, timesteps, conditions) -> NoisePrediction:
        return NoisePrediction(self.fn(x_t, timesteps, conditions))
