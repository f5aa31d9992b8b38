"""Shared fixtures: tiny predictors with closed-form errors and a small digits dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffusion_classifier import numerics

numerics.pin()  # before torch loads: the tests compute as the console script's jobs do

import torch  # noqa: E402
import yaml  # noqa: E402

from diffusion_classifier.engine import CallablePredictor  # noqa: E402

numerics.configure_torch()

REPO = Path(__file__).resolve().parents[1]


def linear_abar(num_train_timesteps: int = 1000) -> torch.Tensor:
    betas = torch.linspace(1e-4, 0.02, num_train_timesteps, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0)


class PrototypePredictor(CallablePredictor):
    """Predicts the noise exactly as if the clean input were class ``k``'s prototype.

    For input x0 and prototype mu_k the prediction error is, in closed form,
    eps_hat - eps = sqrt(abar_t / (1 - abar_t)) * (x0 - mu_k), so the l2 error is
    abar_t / (1 - abar_t) * mean((x0 - mu_k)^2) and the classifier picks the
    nearest prototype.
    """

    def __init__(self, prototypes: torch.Tensor, abar: torch.Tensor):
        self.prototypes = prototypes
        signal = abar.sqrt().float()
        scale = (1 - abar).sqrt().float()

        def fn(x_t, t, cond):
            mu = self.prototypes[cond]
            return (x_t - signal[t].view(-1, 1, 1, 1) * mu) / scale[t].view(-1, 1, 1, 1)

        super().__init__(fn, abar, model_id="prototype")


@pytest.fixture
def abar() -> torch.Tensor:
    return linear_abar()


@pytest.fixture
def prototypes() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(6, 1, 4, 4, generator=generator)


@pytest.fixture
def prototype_predictor(prototypes, abar) -> PrototypePredictor:
    return PrototypePredictor(prototypes, abar)


@pytest.fixture
def mini() -> dict:
    """A fresh copy of the embedded default's config (tests edit it in place)."""
    return yaml.safe_load((REPO / "config/mini.yaml").read_text())


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """One torch thread: tiny models on a shared 2-core machine run far faster
    single-threaded than with threads fighting for cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def sd(tmp_path_factory):
    """A tiny Stable-Diffusion-layout checkpoint (random weights), built once and only read."""
    from helpers.sd_helpers import build_sd_checkpoint

    root = tmp_path_factory.mktemp("sd")
    build_sd_checkpoint(root)
    return root


#: The modules that take minutes (the paper DAG's rehearsal, the micro DAG end to end): collected
#: first, so that under `-n 2 --dist loadscope` (README command 2) each starts at once on a worker
#: of its own (xdist hands each worker two modules to begin with) and the others fill in around them.
SLOWEST_FIRST = ("workflow/test_rehearsal.py", "workflow/test_end_to_end.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = Path(str(item.fspath)).as_posix()
        return next((i for i, name in enumerate(SLOWEST_FIRST) if path.endswith(name)), len(SLOWEST_FIRST))

    items.sort(key=rank)  # stable: every module keeps its order
