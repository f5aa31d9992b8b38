"""The variational-bound term of a model with a learned variance (paper Table 5).

DiT, like improved DDPM, predicts eps and a raw output ``v`` in [-1, 1] per
dimension that interpolates the reverse-process log-variance between the two
natural choices (Nichol & Dhariwal 2021, Eq. 15)::

    log sigma_t^2 = frac * log(beta_t) + (1 - frac) * log(beta_tilde_t),  frac = (v + 1) / 2

with ``beta_tilde_t`` the variance of the forward posterior q(x_{t-1} | x_t, x0),
clipped at t = 0 to its t = 1 value as improved-diffusion does (it is 0 there). The
bound's term of one (t, eps) pair is

* t > 0: KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)), both Gaussian, the model's
  mean taken from its eps prediction;
* t = 0: the negative log-likelihood of x0 under the discretised Gaussian decoder
  (bins of width 2/255 on [-1, 1], open-ended at the edges).

Both are returned in nats per dimension (mean over C*H*W) so that they sit on the
same scale as the per-dimension ``l2``. The normal CDF is computed exactly
(``torch.special.ndtr``) rather than with improved-diffusion's tanh approximation.

The authors' release (``eval_prob_dit.py``) reports the term in bits (``kl / log 2``)
and ranks L2+VLB by ``mse + kl_bits``: objectives ``vlb_bits`` and ``l2_vlb_bits``
are those units. VLB alone ranks classes identically in either unit; the sum
weighs the two terms differently, so Table 5's L2+VLB column depends on the choice.

The same function serves scoring (objectives ``vlb``, ``l2_vlb`` and their ``_bits``
forms, registered with the others in :mod:`.objectives`) and training
(the hybrid loss of :mod:`..models.training`), so the two cannot drift apart.
"""

from __future__ import annotations

import torch

__all__ = ["gaussian_kl", "discretized_gaussian_nll", "learned_log_variance", "vlb_terms"]

# Half the width of one of the 256 intensity bins of an image scaled to [-1, 1].
_HALF_BIN = 1.0 / 255.0


def gaussian_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor,
                logvar2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) in nats."""
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2)
                  + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def discretized_gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Elementwise -log P(x) of a Gaussian discretised to 256 bins on [-1, 1], in nats.

    The lowest and highest bins extend to -inf and +inf (values below -0.999 or
    above 0.999), as in improved-diffusion; probabilities are floored at 1e-12.
    """
    centered = x - mean
    inv_std = torch.exp(-log_scale)
    upper = inv_std * (centered + _HALF_BIN)
    lower = inv_std * (centered - _HALF_BIN)
    log_below_upper = torch.special.log_ndtr(upper)
    log_above_lower = torch.special.log_ndtr(-lower)
    in_bin = (torch.special.ndtr(upper) - torch.special.ndtr(lower)).clamp(min=1e-12).log()
    log_prob = torch.where(x < -0.999, log_below_upper.clamp(min=-27.631021115928547),
                           torch.where(x > 0.999, log_above_lower.clamp(min=-27.631021115928547), in_bin))
    return -log_prob


def _schedule_terms(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor, dtype: torch.dtype):
    """Per-pair betas, posterior coefficients and clipped posterior log-variance."""
    abar = alphas_cumprod.to(torch.float64)
    abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
    betas = 1.0 - abar / abar_prev
    posterior_var = betas * (1.0 - abar_prev) / (1.0 - abar)
    # beta_tilde_0 = 0: improved-diffusion clips it to beta_tilde_1 so its log is finite.
    posterior_log_var = torch.cat([posterior_var[1:2], posterior_var[1:]]).log()
    coef_x0 = betas * abar_prev.sqrt() / (1.0 - abar)
    coef_xt = (1.0 - abar_prev) * (1.0 - betas).sqrt() / (1.0 - abar)
    t = timesteps.to("cpu", torch.long)

    def pick(values: torch.Tensor) -> torch.Tensor:
        return values[t].to(dtype).view(-1, 1, 1, 1)

    return {name: pick(v) for name, v in {
        "abar": abar, "log_beta": betas.log(), "posterior_log_var": posterior_log_var,
        "coef_x0": coef_x0, "coef_xt": coef_xt}.items()}


def learned_log_variance(v: torch.Tensor, log_beta: torch.Tensor, posterior_log_var: torch.Tensor) -> torch.Tensor:
    """The improved-DDPM log-variance: ``frac * log beta + (1 - frac) * log beta_tilde``."""
    frac = (v + 1.0) / 2.0
    return frac * log_beta + (1.0 - frac) * posterior_log_var


def vlb_terms(x0: torch.Tensor, x_t: torch.Tensor, eps: torch.Tensor, v: torch.Tensor,
              timesteps: torch.Tensor, alphas_cumprod: torch.Tensor,
              dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The bound's term of each pair, in nats per dimension, ``[B]``.

    Args:
        x0: Clean input, ``[B, C, H, W]``.
        x_t: The noised input the model saw.
        eps: The model's eps prediction (detach it for a stop-gradient on the mean).
        v: The model's raw variance output in [-1, 1].
        timesteps: Timestep of each pair, ``[B]`` (index into ``alphas_cumprod``).
        alphas_cumprod: The training schedule ``abar``, ``[T]``.
        dtype: Precision of the computation (float64 for scoring; float32 in training).
    """
    device = x_t.device
    s = {k: v_.to(device) for k, v_ in _schedule_terms(alphas_cumprod, timesteps, dtype).items()}
    x0, x_t, eps, v = (a.to(dtype) for a in (x0, x_t, eps, v))
    pred_x0 = (x_t - (1.0 - s["abar"]).sqrt() * eps) / s["abar"].sqrt()
    true_mean = s["coef_x0"] * x0 + s["coef_xt"] * x_t
    model_mean = s["coef_x0"] * pred_x0 + s["coef_xt"] * x_t
    model_log_var = learned_log_variance(v, s["log_beta"], s["posterior_log_var"])
    kl = gaussian_kl(true_mean, s["posterior_log_var"], model_mean, model_log_var).flatten(1).mean(1)
    nll = discretized_gaussian_nll(x0, model_mean, 0.5 * model_log_var).flatten(1).mean(1)
    return torch.where(timesteps.to(device) == 0, nll, kl)
