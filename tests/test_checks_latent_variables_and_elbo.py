"""The lecture 3 checks accept right answers and reject known-wrong ones with a specific message."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_fails, stub

from utils.checks import latent_variables_and_elbo

LOG_2PI = math.log(2 * math.pi)


def log_normal(x, mean, std):
    """Log-density of N(mean, std^2) at x."""
    std = torch.as_tensor(std, dtype=torch.float64)
    return -0.5 * LOG_2PI - torch.log(std) - 0.5 * ((x - mean) / std) ** 2


# ----------------------------------------------------------------------------------------- e_step


def e_step_ok(x, pi, mu, sigma):
    """Right: log-space responsibilities, normalised over components."""
    log_joint = torch.log(pi) + log_normal(x[:, None], mu, sigma)
    return torch.softmax(log_joint, dim=1)


def e_step_naive(x, pi, mu, sigma):
    """Right on ordinary inputs, but densities underflow far from the components."""
    joint = pi * torch.exp(log_normal(x[:, None], mu, sigma))
    return joint / joint.sum(dim=1, keepdim=True)


def test_e_step_correct_passes(capsys):
    v = latent_variables_and_elbo.check_e_step(e_step_ok)
    assert v.passed, v.line()
    assert "[PASS] e_step" in capsys.readouterr().out


def test_e_step_stub_fails():
    assert_fails(latent_variables_and_elbo.check_e_step(stub), "not done yet")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda x, pi, mu, sigma: e_step_ok(x, pi, mu, sigma).T, "one row per point"),
        (lambda x, pi, mu, sigma: e_step_ok(x, pi, mu, sigma)[:, :2], "expected [7, 3]"),
        (lambda x, pi, mu, sigma: pi * torch.exp(log_normal(x[:, None], mu, sigma)), "rows of r do not sum to 1"),
        (
            lambda x, pi, mu, sigma: torch.softmax(torch.log(pi) + log_normal(x[:, None], mu, sigma), dim=0),
            "normalised over the data points",
        ),
        (lambda x, pi, mu, sigma: torch.softmax(log_normal(x[:, None], mu, sigma), dim=1), "mixing weights pi"),
        (lambda x, pi, mu, sigma: e_step_ok(x, pi, mu, sigma.sqrt()), "used sigma as the variance"),
        (lambda x, pi, mu, sigma: e_step_ok(x, pi, mu, sigma**2), "sigma**2 as the standard deviation"),
        (
            lambda x, pi, mu, sigma: torch.softmax(torch.log(pi) - 0.5 * ((x[:, None] - mu) / sigma) ** 2, dim=1),
            "1/sigma_k factor",
        ),
        (lambda x, pi, mu, sigma: torch.log(e_step_ok(x, pi, mu, sigma)), "log-responsibilities"),
        (e_step_naive, "underflow"),
        (lambda x, pi, mu, sigma: e_step_ok(x, pi, mu + 0.3, sigma), "differ from the expected"),
        (lambda x, pi, mu, sigma: e_step_ok(x, pi, mu, sigma).numpy(), "should be a torch.Tensor"),
        (lambda x, pi, mu, sigma: 1 / 0, "your code raised ZeroDivisionError"),
    ],
)
def test_e_step_wrong_answers_fail(wrong, fragment):
    assert_fails(latent_variables_and_elbo.check_e_step(wrong), fragment)


# ----------------------------------------------------------------------------------- elbo_estimate


def parts(x, mu, log_sigma, eps, zeta, sigma_x):
    """z and the three log-densities every ELBO estimator is built from."""
    sigma = torch.exp(log_sigma)
    z = mu + sigma * eps
    return z, log_normal(x, zeta * z, sigma_x), log_normal(z, 0.0, 1.0), log_normal(z, mu, sigma)


def elbo_mc(x, mu, log_sigma, eps, zeta, sigma_x):
    """Right: plain Monte Carlo estimate of E_q[log p(x, z) - log q(z)]."""
    _, log_lik, log_prior, log_q = parts(x, mu, log_sigma, eps, zeta, sigma_x)
    return (log_lik + log_prior - log_q).mean()


def elbo_entropy(x, mu, log_sigma, eps, zeta, sigma_x):
    """Right: Monte Carlo log-joint plus the closed-form entropy of q."""
    _, log_lik, log_prior, _ = parts(x, mu, log_sigma, eps, zeta, sigma_x)
    return (log_lik + log_prior).mean() + 0.5 * (LOG_2PI + 1) + log_sigma


def elbo_kl(x, mu, log_sigma, eps, zeta, sigma_x):
    """Right: Monte Carlo reconstruction term minus the closed-form KL to the prior."""
    _, log_lik, _, _ = parts(x, mu, log_sigma, eps, zeta, sigma_x)
    sigma = torch.exp(log_sigma)
    return log_lik.mean() - (0.5 * (mu**2 + sigma**2 - 1) - log_sigma)


@pytest.mark.parametrize("right", [elbo_mc, elbo_entropy, elbo_kl])
def test_elbo_estimate_correct_forms_pass(right):
    v = latent_variables_and_elbo.check_elbo_estimate(right)
    assert v.passed, v.line()


def test_elbo_estimate_stub_fails():
    assert_fails(latent_variables_and_elbo.check_elbo_estimate(stub), "not done yet")


def elbo_no_constants(x, mu, log_sigma, eps, zeta, sigma_x):
    """Wrong: Gaussian log-densities without their -0.5*log(2*pi) terms."""
    sigma = torch.exp(log_sigma)
    z = mu + sigma * eps
    log_lik = -math.log(sigma_x) - 0.5 * ((x - zeta * z) / sigma_x) ** 2
    return (log_lik - 0.5 * z**2 + log_sigma + 0.5 * eps**2).mean()


def elbo_detached(x, mu, log_sigma, eps, zeta, sigma_x):
    """Wrong: right value, but z is cut from the graph."""
    return elbo_mc(x, mu.detach(), log_sigma.detach(), eps, zeta, sigma_x)


def elbo_fresh_noise(x, mu, log_sigma, eps, zeta, sigma_x):
    """Wrong: draws its own noise instead of using eps."""
    return elbo_mc(x, mu, log_sigma, torch.randn_like(eps), zeta, sigma_x)


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda *args: -elbo_mc(*args), "sign is flipped"),
        (lambda *args: -elbo_kl(*args), "sign is flipped"),
        (lambda *args: elbo_mc(*args) * len(args[3]), "summed over the S samples"),
        (lambda *args: (parts(*args)[1] + parts(*args)[2]).mean(), "missing the entropy term"),
        (lambda *args: (parts(*args)[1] + parts(*args)[2] + parts(*args)[3]).mean(), "log q(z) term has the wrong"),
        (lambda *args: elbo_entropy(*args) - 2 * (0.5 * (LOG_2PI + 1) + args[2]), "entropy term has the wrong sign"),
        (lambda *args: 2 * parts(*args)[1].mean() - elbo_kl(*args), "KL term has the wrong sign"),
        (lambda *args: (parts(*args)[1] - parts(*args)[3]).mean(), "missing the prior term"),
        (lambda *args: parts(*args)[1].mean(), "only have the reconstruction term"),
        (lambda x, mu, ls, eps, zeta, sigma_x: elbo_mc(x, mu, ls, eps, 1.0, sigma_x), "decoder weight zeta"),
        (lambda x, mu, ls, eps, zeta, sigma_x: elbo_mc(x, mu, ls, eps, zeta, math.sqrt(sigma_x)), "used sigma_x as the variance"),
        (lambda x, mu, ls, eps, zeta, sigma_x: elbo_mc(x, mu, torch.log(ls), eps, zeta, sigma_x), "log_sigma as the standard deviation"),
        (lambda x, mu, ls, eps, zeta, sigma_x: elbo_mc(x, mu, 0.5 * ls, eps, zeta, sigma_x), "log_sigma as a log-variance"),
        (elbo_no_constants, "off by a constant"),
        (elbo_detached, "not differentiable"),
        (elbo_fresh_noise, "draw no new noise"),
        (lambda *args: elbo_mc(*args).reshape(1), "single number"),
        (lambda *args: elbo_mc(*args) + 0.1 * args[1] ** 3, "expected"),
    ],
)
def test_elbo_estimate_wrong_answers_fail(wrong, fragment):
    assert_fails(latent_variables_and_elbo.check_elbo_estimate(wrong), fragment)


# ---------------------------------------------------------------------------------- reparameterise


def reparam_ok(mu, logvar, eps):
    """Right: z = mu + exp(0.5 * logvar) * eps."""
    return mu + torch.exp(0.5 * logvar) * eps


def test_reparameterise_correct_passes():
    v = latent_variables_and_elbo.check_reparameterise(reparam_ok)
    assert v.passed, v.line()


def test_reparameterise_stub_fails():
    assert_fails(latent_variables_and_elbo.check_reparameterise(stub), "not done yet")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda mu, logvar, eps: mu + logvar * eps, "used logvar as the standard deviation"),
        (lambda mu, logvar, eps: mu + torch.exp(logvar) * eps, "by the variance exp(logvar)"),
        (lambda mu, logvar, eps: mu + 0.5 * logvar * eps, "forgot the exp"),
        (lambda mu, logvar, eps: mu + torch.exp(-0.5 * logvar) * eps, "1/sigma"),
        (lambda mu, logvar, eps: mu * 1.0, "forgot the noise"),
        (lambda mu, logvar, eps: torch.exp(0.5 * logvar) * eps, "forgot to add mu"),
        (lambda mu, logvar, eps: mu - torch.exp(0.5 * logvar) * eps, "wrong sign"),
        (lambda mu, logvar, eps: reparam_ok(logvar, mu, eps), "mixed up the arguments"),
        (lambda mu, logvar, eps: reparam_ok(mu, logvar, torch.randn_like(eps)), "draw no new noise"),
        (lambda mu, logvar, eps: reparam_ok(mu, logvar, eps).detach(), "detached"),
        (lambda mu, logvar, eps: mu + torch.exp(0.5 * logvar.detach()) * eps, "dz/dlogvar"),
        (lambda mu, logvar, eps: mu.detach() + torch.exp(0.5 * logvar) * eps, "dz/dmu"),
        (lambda mu, logvar, eps: reparam_ok(mu, logvar, eps).sum(dim=1), "expected [4, 3]"),
        (lambda mu, logvar, eps: reparam_ok(mu, logvar, eps) + 0.01, "differs from the reparameterised sample"),
    ],
)
def test_reparameterise_wrong_answers_fail(wrong, fragment):
    assert_fails(latent_variables_and_elbo.check_reparameterise(wrong), fragment)


# ------------------------------------------------------------------------------- em_local_optimum


def mixture_data(n=1200):
    """Three 2D clusters, as in the lecture."""
    g = torch.Generator().manual_seed(0)
    pi = torch.tensor([0.34, 0.41, 0.25], dtype=torch.float64)
    mu = torch.tensor([[-2.1, -0.4], [0.7, 2.2], [2.3, -1.6]], dtype=torch.float64)
    chol = torch.linalg.cholesky(
        torch.tensor([[[0.32, 0.10], [0.10, 0.42]], [[0.30, -0.12], [-0.12, 0.34]], [[0.44, 0.05], [0.05, 0.24]]], dtype=torch.float64)
    )
    c = torch.multinomial(pi, n, replacement=True, generator=g)
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return mu[c] + (chol[c] @ eps[:, :, None]).squeeze(2)


X_EM = mixture_data()


def em_run(mu_start, n_iter=300, x=X_EM):
    """Plain EM from the given means (equal weights, identity covariances): (pi, mu, Sigma, log_liks)."""
    k = len(mu_start)
    pi, mu, sigma = torch.full((k,), 1 / k, dtype=torch.float64), mu_start, torch.eye(2, dtype=torch.float64).repeat(k, 1, 1)
    log_liks = []
    for _ in range(n_iter):
        log_joint = torch.log(pi) + torch.distributions.MultivariateNormal(mu, sigma).log_prob(x[:, None, :])
        log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)
        log_liks.append(log_px.mean().item())
        r = (log_joint - log_px).exp()
        nk = r.sum(dim=0)
        mu = (r.T @ x) / nk[:, None]
        diff = x[:, None, :] - mu[None]
        sigma = torch.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None]
        pi = nk / len(x)
    log_joint = torch.log(pi) + torch.distributions.MultivariateNormal(mu, sigma).log_prob(x[:, None, :])
    log_liks.append(torch.logsumexp(log_joint, dim=1).mean().item())
    return pi, mu, sigma, log_liks


GOOD_START = torch.tensor([[-2.0, 0.0], [0.5, 2.0], [2.0, -1.5]], dtype=torch.float64)
STUCK_START = torch.tensor([[-2.3, -0.4], [-1.9, -0.4], [1.5, 0.3]], dtype=torch.float64)


@pytest.fixture(scope="module")
def em_runs():
    """A run at the best optimum, one stuck in a worse one, and a stuck one stopped early."""
    return {"good": em_run(GOOD_START), "stuck": em_run(STUCK_START), "early": em_run(STUCK_START, n_iter=3)}


def test_em_local_optimum_accepts_a_good_and_a_stuck_run(em_runs, capsys):
    v = latent_variables_and_elbo.check_em_local_optimum(lambda: (em_runs["good"], em_runs["stuck"]), X_EM)
    assert v.passed, v.line()
    assert "nats per point lower" in capsys.readouterr().out


def test_em_local_optimum_stub_fails():
    assert_fails(latent_variables_and_elbo.check_em_local_optimum(stub, X_EM), "not done yet")


def with_history(run, log_liks):
    """The same parameters with another log-likelihood history."""
    return (*run[:3], log_liks)


EM_MISTAKES = [
    (lambda r: (r["stuck"], r["good"]), "swapped"),
    (lambda r: (r["good"], r["good"]), "same optimum"),
    (lambda r: (r["good"], r["early"]), "has not converged"),
    (lambda r: (r["stuck"], r["stuck"]), "same optimum"),
    (lambda r: (r["good"], with_history(r["stuck"], [*r["stuck"][3][:5], r["stuck"][3][2], *r["stuck"][3][5:]])), "goes down at iteration"),
    (lambda r: (r["good"], with_history(r["stuck"], r["good"][3])), "is not the average log-likelihood of the"),
    (
        lambda r: (r["good"], (r["stuck"][0], r["stuck"][1], r["stuck"][2] * torch.tensor([1.0, 1.0, 0.0])[:, None, None], r["stuck"][3])),
        "singular",
    ),
    (lambda r: (r["good"], (r["stuck"][0] * 2, *r["stuck"][1:])), "sum to 1"),
    (lambda r: (r["good"][:3], r["stuck"]), "tuple (pi, mu, Sigma, log_liks)"),
    (lambda r: (r["good"], (r["stuck"][0], r["stuck"][1].T, *r["stuck"][2:])), "stuck: mu"),
    (lambda r: r["good"], "return two runs"),
]


@pytest.mark.parametrize(("wrong", "fragment"), EM_MISTAKES)
def test_em_local_optimum_names_wrong_outcomes(em_runs, wrong, fragment):
    assert_fails(latent_variables_and_elbo.check_em_local_optimum(lambda: wrong(em_runs), X_EM), fragment)


def test_em_local_optimum_names_a_good_run_that_is_not_the_best(em_runs):
    worse = em_run(torch.tensor([[2.3, -1.6], [2.1, -1.3], [-0.5, 1.0]], dtype=torch.float64))  # two means in another cluster
    assert_fails(latent_variables_and_elbo.check_em_local_optimum(lambda: (em_runs["stuck"], worse), X_EM), "not the best")


def test_em_local_optimum_names_data_of_the_wrong_shape(em_runs):
    assert_fails(latent_variables_and_elbo.check_em_local_optimum(lambda: (em_runs["good"], em_runs["stuck"]), X_EM[:, 0]), "shape [N, 2]")
