"""The forward process q(x_t | x_0): its one implementation, in each precision convention."""

import pytest
import torch

from diffusion_classifier.engine import forward_noise
from diffusion_classifier.models.training import noised_batch



def test_forward_noise_is_the_closed_form_per_row(abar):
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 1, 2, 2, generator=g), torch.randn(3, 1, 2, 2, generator=g)
    t = torch.tensor([0, 500, 999])
    x_t = forward_noise(x0, eps, abar[t].view(-1, 1, 1, 1))
    assert x_t.dtype == torch.float32
    for i, ti in enumerate(t.tolist()):
        a = float(abar[ti])
        assert torch.allclose(x_t[i], a ** 0.5 * x0[i] + (1 - a) ** 0.5 * eps[i], atol=1e-6)
    # t = 999 is nearly all noise, t = 0 nearly all signal.
    assert torch.allclose(x_t[2], eps[2], atol=0.01) and torch.allclose(x_t[0], x0[0], atol=0.02)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_one_timestep_multiplies_as_a_python_scalar(dtype, abar):
    # The SD-features baseline noises a batch at one t: the products must be those of
    # Python scalars (a 0-dim fp16 tensor would round sqrt(abar) to fp16 first).
    g = torch.Generator().manual_seed(1)
    x0, eps = (torch.randn(8, 4, 4, 4, generator=g).to(dtype) for _ in range(2))
    for a in abar[::97].tolist():
        assert torch.equal(forward_noise(x0, eps, a), a ** 0.5 * x0 + (1 - a) ** 0.5 * eps)


def test_training_noises_through_it(abar):
    abar = abar.float()
    x0 = torch.randn(5, 1, 3, 3, generator=torch.Generator().manual_seed(2))
    t, noise, x_t = noised_batch(x0, abar, 1000, torch.Generator().manual_seed(3))
    assert torch.equal(x_t, forward_noise(x0, noise, abar[t].view(-1, 1, 1, 1)))
