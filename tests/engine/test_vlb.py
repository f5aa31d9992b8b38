"""The VLB objectives against an independent numpy computation, and from one scoring pass."""

import math

import numpy as np
import pytest
import torch

from diffusion_classifier.engine import DiffusionClassifier, PairBatch, Schedule, ScoringConfig, draw_noise
from diffusion_classifier.engine import get_objective
from diffusion_classifier.engine.objectives import needs_variance
from diffusion_classifier.engine import CallablePredictor, NoisePrediction

T = 10
BETAS = np.linspace(0.01, 0.2, T)  # a short schedule so that every term matters


def _phi(z):
    return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


def reference_vlb(x0, x_t, eps, v, t):
    """Improved-DDPM's L_t written from the formulas, in numpy float64, nats per dim."""
    alphas = 1.0 - BETAS
    abar = np.cumprod(alphas)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    out = []
    for i, ti in enumerate(t):
        beta_tilde = BETAS * (1 - abar_prev) / (1 - abar)
        log_beta_tilde = np.log(beta_tilde[1] if ti == 0 else beta_tilde[ti])
        frac = (v[i] + 1) / 2
        log_var = frac * np.log(BETAS[ti]) + (1 - frac) * log_beta_tilde
        x0_hat = (x_t[i] - np.sqrt(1 - abar[ti]) * eps[i]) / np.sqrt(abar[ti])
        c0 = np.sqrt(abar_prev[ti]) * BETAS[ti] / (1 - abar[ti])
        ct = np.sqrt(alphas[ti]) * (1 - abar_prev[ti]) / (1 - abar[ti])
        mu_model, mu_true = c0 * x0_hat + ct * x_t[i], c0 * x0[i] + ct * x_t[i]
        if ti > 0:
            var_true, var_model = np.exp(log_beta_tilde), np.exp(log_var)
            kl = 0.5 * (np.log(var_model / var_true) + (var_true + (mu_true - mu_model) ** 2) / var_model - 1)
            out.append(kl.mean())
        else:
            sd = np.exp(0.5 * log_var)
            hi = np.where(x0[i] > 0.999, np.inf, x0[i] + 1 / 255)
            lo = np.where(x0[i] < -0.999, -np.inf, x0[i] - 1 / 255)
            p = _phi((hi - mu_model) / sd) - _phi((lo - mu_model) / sd)
            out.append(-np.log(np.maximum(p, 1e-12)).mean())
    return np.array(out)


@pytest.fixture
def pairs():
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(5, 2, 3, 3, generator=g, dtype=torch.float64) * 2 - 1
    x0[0, 0, 0, 0], x0[0, 1, 0, 0] = -1.0, 1.0  # the open-ended edge bins
    noise = torch.randn(5, 2, 3, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 1, 4, 9, 0])
    abar = torch.cumprod(1 - torch.tensor(BETAS), 0)
    x_t = abar[t].sqrt().view(-1, 1, 1, 1) * x0 + (1 - abar[t]).sqrt().view(-1, 1, 1, 1) * noise
    eps = noise + 0.3 * torch.randn(noise.shape, generator=g, dtype=torch.float64)
    v = torch.rand(noise.shape, generator=g, dtype=torch.float64) * 2 - 1
    batch = PairBatch(x0.float(), x_t.float(), noise.float(), eps.float(), t, abar, v.float())
    return batch, (x0, x_t, eps, v, t)


def test_vlb_matches_an_independent_numpy_computation(pairs):
    batch, (x0, x_t, eps, v, t) = pairs
    expected = reference_vlb(*(a.numpy() for a in (x0, x_t, eps, v)), t.numpy())
    np.testing.assert_allclose(get_objective("vlb")(batch).numpy(), expected, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(get_objective("l2_vlb")(batch).numpy(),
                               get_objective("l2")(batch).numpy() + expected, rtol=2e-4, atol=1e-5)
    assert needs_variance("vlb") and needs_variance("l2_vlb") and not needs_variance("l2")


def test_kl_vanishes_for_the_exact_eps_and_the_posterior_variance(pairs):
    batch, (x0, x_t, eps, v, t) = pairs
    exact = PairBatch(batch.x0, batch.x_t, batch.noise, batch.noise, t, batch.alphas_cumprod,
                      torch.full_like(batch.noise, -1.0))  # frac 0: log var = log beta_tilde
    values = get_objective("vlb")(exact).numpy()
    np.testing.assert_allclose(values[t.numpy() > 0], 0.0, atol=1e-5)
    assert (values[t.numpy() == 0] > 0).all()  # the decoder NLL is a likelihood, not a divergence


class VariancePredictor(CallablePredictor):
    """eps = the prototype rule of conftest, v = a fixed value per class."""

    learns_variance = True

    def __init__(self, prototypes, abar):
        signal, scale = abar.sqrt().float(), (1 - abar).sqrt().float()

        def fn(x_t, t, cond):
            mu = prototypes[cond]
            return (x_t - signal[t].view(-1, 1, 1, 1) * mu) / scale[t].view(-1, 1, 1, 1)

        super().__init__(fn, abar, model_id="variance")

    def predict(self, x_t, timesteps, conditions):
        eps = self.fn(x_t, timesteps, conditions)
        return NoisePrediction(eps, torch.tanh(conditions.float() - 2).view(-1, 1, 1, 1).expand_as(eps))


def test_one_pass_stores_every_objective_and_they_agree_with_direct_calls(prototypes, abar):
    predictor = VariancePredictor(prototypes, abar)
    schedule = Schedule.one_stage(8)
    config = ScoringConfig(schedule, loss="l2", extra_objectives=("vlb", "l2_vlb"), batch_size=7)
    x0 = prototypes[1] + 0.2
    noise = draw_noise(3, schedule.num_noise, tuple(x0.shape))
    scores = DiffusionClassifier(predictor, torch.arange(6), config).classify(x0, noise)
    assert set(scores.errors) == {"l2", "vlb", "l2_vlb"} and scores.passes == 6 * 8
    np.testing.assert_allclose(scores.errors["l2_vlb"], scores.errors["l2"] + scores.errors["vlb"], rtol=1e-5)
    # One pair recomputed by hand through the objective: same value as stored.
    c, g = int(scores.condition[13]), int(scores.grid_index[13])
    t = torch.tensor([schedule.grid[g]])
    x_t = abar[t].sqrt().float() * x0 + (1 - abar[t]).sqrt().float() * noise[g]
    pred = predictor.predict(x_t.unsqueeze(0), t, torch.tensor([c]))
    batch = PairBatch(x0.unsqueeze(0), x_t.unsqueeze(0), noise[g].unsqueeze(0), pred.eps, t, abar, pred.variance)
    assert get_objective("vlb")(batch).item() == pytest.approx(float(scores.errors["vlb"][13]), rel=1e-5)


def test_vlb_needs_a_model_with_a_variance(prototype_predictor):
    config = ScoringConfig(Schedule.one_stage(4), extra_objectives=("vlb",))
    with pytest.raises(ValueError, match="need a learned variance"):
        DiffusionClassifier(prototype_predictor, torch.arange(6), config)


def test_authors_units_are_bits_and_mse_plus_kl_bits(pairs):
    """The authors' release: VLB = kl / log 2, L2+VLB = mse + kl_bits (eval_prob_dit.py, print_dit_acc.py)."""
    batch, (x0, x_t, eps, v, t) = pairs
    nats = reference_vlb(*(a.numpy() for a in (x0, x_t, eps, v)), t.numpy())
    mse = ((eps - batch.noise.double()) ** 2).flatten(1).mean(1).numpy()
    np.testing.assert_allclose(get_objective("vlb_bits")(batch).numpy(), nats / np.log(2), rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(get_objective("l2_vlb_bits")(batch).numpy(), mse + nats / np.log(2),
                               rtol=2e-4, atol=1e-5)
    assert needs_variance("vlb_bits") and needs_variance("l2_vlb_bits")


def test_paper_config_uses_the_authors_units_for_table5():
    from pathlib import Path

    import yaml

    from diffusion_classifier.reporting.objectives_table import paper_value

    root = Path(__file__).resolve().parents[2]
    paper = yaml.safe_load((root / "config" / "paper.yaml").read_text())
    columns = paper["supervised"]["objectives"]["objectives"]
    assert columns == ["l2", "vlb_bits", "l2_vlb_bits"]
    for run in paper["supervised"]["objectives"]["runs"]:
        stored = {paper["strategies"][run["strategy"]]["loss"], *paper["strategies"][run["strategy"]]["extra_objectives"]}
        assert set(columns) <= stored
        assert all(paper_value(run["paper"], c)[0] is not None for c in columns)
    # the embedded default keeps its nats columns (its Table 5 is unchanged)
    mini = yaml.safe_load((root / "config" / "mini.yaml").read_text())
    assert mini["supervised"]["objectives"]["objectives"] == ["l2", "vlb", "l2_vlb"]
