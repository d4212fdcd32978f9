"""Checks for the exercises of lecture 3 (latent variables, EM and the ELBO).

from utils.checks import latent_variables_and_elbo
latent_variables_and_elbo.check_e_step(e_step)
latent_variables_and_elbo.check_em_local_optimum(em_two_starts, X)
latent_variables_and_elbo.check_elbo_estimate(elbo_estimate)
latent_variables_and_elbo.check_reparameterise(reparameterise)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NoReturn

import torch

from utils.checks.core import (
    StudentError,
    Verdict,
    call,
    is_close,
    reparameterisation_mistake,
    require_scalar,
    require_shape,
    require_tensor,
    require_values,
    run_check,
)
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

_LOG_2PI = math.log(2 * math.pi)


def _log_normal(x: torch.Tensor, mean: torch.Tensor | float, std: torch.Tensor | float) -> torch.Tensor:
    """Log-density of N(mean, std^2) at x, elementwise."""
    std = torch.as_tensor(std, dtype=torch.float64)
    return -0.5 * _LOG_2PI - torch.log(std) - 0.5 * ((x - mean) / std) ** 2


# --------------------------------------------------------------------------------------------------
# Exercise: the E-step of a 1D Gaussian mixture
# --------------------------------------------------------------------------------------------------


def _responsibilities(x: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, use_pi: bool = True) -> torch.Tensor:
    """Reference responsibilities [N, K], computed in log-space."""
    log_joint = _log_normal(x[:, None], mu[None, :], sigma[None, :])  # [N, 1] vs [1, K] -> [N, K]
    if use_pi:
        log_joint = log_joint + torch.log(pi)[None, :]
    return torch.softmax(log_joint, dim=1)


def _e_step_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seven points and a 3-component mixture with unequal weights and widths, so mistakes show."""
    x = torch.tensor([-2.5, -1.0, -0.2, 0.4, 1.1, 2.0, 3.2], dtype=torch.float64)
    pi = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    mu = torch.tensor([-1.5, 0.5, 2.0], dtype=torch.float64)
    sigma = torch.tensor([0.7, 1.6, 0.4], dtype=torch.float64)
    return x, pi, mu, sigma


def _e_step_mistake(r: torch.Tensor, x: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> NoReturn:
    """Stop with the known mistake that produces r, or with the generic message."""
    n, k = len(x), len(pi)
    ref = _responsibilities(x, pi, mu, sigma)
    if is_close(r, torch.log(ref)):
        raise StudentError("you returned log-responsibilities: exponentiate them (the rows of r must be probabilities).")
    if (r < -1e-8).any():
        raise StudentError("responsibilities are probabilities, but some of yours are negative.")
    rows, cols = r.sum(dim=1), r.sum(dim=0)
    if not is_close(rows, torch.ones(n)):
        if is_close(cols, torch.ones(k)):
            raise StudentError(
                "your columns sum to 1, not your rows: you normalised over the data points (dim=0); "
                "normalise over the K components (dim=1), since r[i, k] = p(z_i = k | x_i)."
            )
        raise StudentError(
            "the rows of r do not sum to 1: divide pi_k N(x_i | mu_k, sigma_k^2) by its sum over the K components "
            "(or use torch.softmax / logsumexp over dim=1)."
        )
    if is_close(r, _responsibilities(x, pi, mu, sigma, use_pi=False)):
        raise StudentError("you forgot the mixing weights pi: r[i, k] is proportional to pi_k * N(x_i | mu_k, sigma_k^2).")
    if is_close(r, _responsibilities(x, pi, mu, sigma.sqrt())):
        raise StudentError("you used sigma as the variance; sigma is the standard deviation (the variance is its square).")
    if is_close(r, _responsibilities(x, pi, mu, sigma**2)):
        raise StudentError("you used sigma**2 as the standard deviation; sigma already is the standard deviation.")
    no_norm = torch.softmax(torch.log(pi)[None, :] - 0.5 * ((x[:, None] - mu[None, :]) / sigma[None, :]) ** 2, dim=1)
    if is_close(r, no_norm):
        raise StudentError(
            "you dropped the 1/sigma_k factor of the Gaussian density: it does not cancel when the components have different widths."
        )
    worst = (r.detach().double() - ref).abs().max().item()
    raise StudentError(f"the responsibilities differ from the expected ones (largest difference {worst:.3g}).")


def check_e_step(e_step: Callable[..., torch.Tensor]) -> Verdict:
    """Check e_step(x [N], pi [K], mu [K], sigma [K]) -> responsibilities [N, K], stable far from all components."""

    def body() -> None:
        """Try ordinary points, then points far from every component; stop at the first problem."""
        x, pi, mu, sigma = _e_step_inputs()
        n, k = len(x), len(pi)
        r = require_tensor(call(e_step, x.clone(), pi.clone(), mu.clone(), sigma.clone()), "r")
        if tuple(r.shape) == (k, n):
            raise StudentError(f"r has shape {[k, n]}, expected [N, K] = {[n, k]}: one row per point, one column per component.")
        require_shape(r, (n, k), "r")
        r = r.detach().double()
        if not torch.isfinite(r).all():
            raise StudentError("r contains NaN or inf for ordinary inputs: check for a division by zero.")
        if not is_close(r, _responsibilities(x, pi, mu, sigma)):
            _e_step_mistake(r, x, pi, mu, sigma)
        # Points far from every component: the densities underflow to 0 unless computed in log-space.
        x_far = torch.tensor([-200.0, 0.0, 300.0], dtype=torch.float64)
        r_far = require_tensor(call(e_step, x_far, pi.clone(), mu.clone(), sigma.clone()), "r")
        require_shape(r_far, (3, k), "r for 3 points")
        if not torch.isfinite(r_far).all():
            raise StudentError(
                "r is NaN for points far from every component (x = -200 or 300): the densities underflow to 0 and "
                "you divide 0 by 0. Work with log-densities and normalise with torch.logsumexp or torch.softmax."
            )
        if not is_close(r_far.detach().double(), _responsibilities(x_far, pi, mu, sigma)):
            raise StudentError("r is wrong for points far from every component (x = -200 or 300): compute it in log-space.")

    return run_check("e_step", body, "responsibilities are right, rows sum to 1, and it is stable far from the data.")


# --------------------------------------------------------------------------------------------------
# Exercise (experiment): EM from two starts, one of them stuck in a worse local optimum
# --------------------------------------------------------------------------------------------------

_EM_CONVERGED = 1e-5  # one more EM iteration raises a converged run's average log-likelihood by less than this
_EM_SAME = 1e-3  # two runs whose final log-likelihoods differ by less than this ended at the same optimum
_EM_WORSE = 0.05  # the stuck run must end at least this far (nats per point) below the best optimum
_EM_STARTS, _EM_ITERS = 4, 200  # the check's own restarts, to find the best optimum it compares with


def _gmm_log_joint(x: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log pi_k + log N(x_i; mu_k, Sigma_k), shape [N, K]."""
    dist = torch.distributions.MultivariateNormal(mu, sigma)
    return torch.log(pi) + dist.log_prob(x[:, None, :])


def _em_iteration(x: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One E-step and M-step; returns the new (pi, mu, Sigma) and the average log-likelihood before the step."""
    log_joint = _gmm_log_joint(x, pi, mu, sigma)
    log_px = torch.logsumexp(log_joint, dim=1, keepdim=True)
    r = (log_joint - log_px).exp()
    nk = r.sum(dim=0)
    mu_new = (r.T @ x) / nk[:, None]
    diff = x[:, None, :] - mu_new[None, :, :]
    sigma_new = torch.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None]
    return nk / len(x), mu_new, sigma_new, log_px.mean()


def _em_log_lik(x: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> float:
    """Average log-likelihood (1/N) sum_i log p(x_i) of a mixture."""
    return torch.logsumexp(_gmm_log_joint(x, pi, mu, sigma), dim=1).mean().item()


def _best_em_optimum(x: torch.Tensor, k: int) -> float:
    """The highest average log-likelihood EM reaches from a few starts at random data points."""
    best = -math.inf
    for seed in range(_EM_STARTS):
        g = torch.Generator().manual_seed(seed)
        pi = torch.full((k,), 1 / k, dtype=torch.float64)
        mu = x[torch.randperm(len(x), generator=g)[:k]]
        sigma = torch.eye(x.shape[1], dtype=torch.float64).repeat(k, 1, 1)
        for _ in range(_EM_ITERS):
            pi, mu, sigma, _ = _em_iteration(x, pi, mu, sigma)
        best = max(best, _em_log_lik(x, pi, mu, sigma))
    return best


def _em_run(run: Any, which: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[float]]:
    """Validate one returned run (pi [K], mu [K, d], Sigma [K, d, d], log_liks) and return it in float64."""
    if not isinstance(run, (tuple, list)) or len(run) != 4:
        raise StudentError(f"the {which} run should be a tuple (pi, mu, Sigma, log_liks), as the statement says.")
    pi, mu, sigma = (
        require_tensor(t, f"{which}: {name}").detach().double() for t, name in zip(run[:3], ("pi", "mu", "Sigma"), strict=True)
    )
    k, d = len(pi), x.shape[1]
    require_shape(pi, (k,), f"{which}: pi")
    require_shape(mu, (k, d), f"{which}: mu")
    require_shape(sigma, (k, d, d), f"{which}: Sigma")
    try:
        log_liks = [float(v) for v in run[3]]
    except (TypeError, ValueError):
        raise StudentError(f"the {which} run's log_liks should be a list of numbers, one average log-likelihood per iteration.") from None
    if len(log_liks) < 2:
        raise StudentError(f"the {which} run's log_liks should hold the average log-likelihood of every iteration, at least two.")
    if not all(math.isfinite(v) for v in log_liks):
        raise StudentError(f"the {which} run's log_liks contain NaN or inf: did a component collapse onto a single point?")
    if (pi <= 1e-3).any() or not math.isclose(pi.sum().item(), 1.0, abs_tol=1e-6):
        raise StudentError(f"the {which} run's weights pi should be positive and sum to 1; these are {pi.numpy().round(4).tolist()}.")
    if not torch.allclose(sigma, sigma.transpose(1, 2), atol=1e-8) or torch.linalg.eigvalsh(sigma).min() < 1e-6:
        raise StudentError(
            f"a covariance of the {which} run is singular (or not symmetric): a component collapsed onto a point and the "
            "likelihood runs off to infinity. That is a degenerate solution, not a local optimum: start that run elsewhere."
        )
    return pi, mu, sigma, log_liks


def _em_history_problem(which: str, log_liks: list[float], x: torch.Tensor, params: tuple[torch.Tensor, ...]) -> None:
    """Stop when a run's history goes down, belongs to other parameters, or has not converged."""
    drops = [t for t in range(len(log_liks) - 1) if log_liks[t + 1] < log_liks[t] - 1e-9]
    if drops:
        t = drops[0]
        raise StudentError(
            f"the {which} run's log-likelihood goes down at iteration {t + 1} ({log_liks[t]:.6f} -> {log_liks[t + 1]:.6f}): "
            "EM never decreases it, so this is not one EM run. Record the average log-likelihood of each E-step of a "
            "single run (e_step returns it), and apply the M-step to the responsibilities of the same E-step."
        )
    final = _em_log_lik(x, *params)
    if abs(final - log_liks[-1]) > 1e-6:
        raise StudentError(
            f"the last entry of the {which} run's log_liks ({log_liks[-1]:.6f}) is not the average log-likelihood of the "
            f"parameters you returned ({final:.6f}): record it after the last M-step, or return the parameters of that step."
        )
    gain = _em_log_lik(x, *_em_iteration(x, *params)[:3]) - final
    if gain > _EM_CONVERGED:
        raise StudentError(
            f"the {which} run has not converged: one more EM iteration raises its average log-likelihood by {gain:.2g}. "
            "An unfinished run is not a local optimum: run EM until the log-likelihood stops changing "
            f"(gains below {_EM_CONVERGED:g} per iteration)."
        )


def check_em_local_optimum(fn: Callable[..., Any], x: torch.Tensor) -> Verdict:
    """fn() returns two converged EM runs on x, (good, stuck), each (pi, mu, Sigma, log_liks); stuck ends in a worse optimum."""
    found: dict[str, float] = {}

    def body() -> None:
        data = require_tensor(x, "X").detach().double()
        if data.dim() != 2 or len(data) < 10:
            raise StudentError(f"pass the data matrix X of shape [N, 2] as the second argument; got shape {list(data.shape)}.")
        out = call(fn)
        require_values(out, 2, "return two runs, (good, stuck), in that order; got {got}.")
        good, stuck = (_em_run(run, which, data) for run, which in zip(out, ("good", "stuck"), strict=True))
        for which, run in (("good", good), ("stuck", stuck)):
            _em_history_problem(which, run[3], data, run[:3])
        ll_good, ll_stuck = good[3][-1], stuck[3][-1]
        best = max(_best_em_optimum(data, len(good[0])), ll_good, ll_stuck)
        found.update(good=ll_good, stuck=ll_stuck, best=best)
        if abs(ll_good - ll_stuck) < _EM_SAME:
            raise StudentError(
                f"both runs end at the same optimum (average log-likelihood {ll_good:.4f}): find a start from which EM "
                "settles somewhere worse. Look at the scatter plot: which starting means can EM not sort out?"
            )
        if ll_stuck > ll_good and best - ll_stuck < _EM_SAME:
            raise StudentError(
                f"the two runs are swapped: the stuck run ends higher ({ll_stuck:.4f}) than the good one ({ll_good:.4f}); "
                "return the run at the best optimum first."
            )
        if best - ll_good > _EM_SAME:
            raise StudentError(
                f"the good run ends at {ll_good:.4f}, but EM from other starts reaches {best:.4f}: it is not the best "
                "optimum. Try several starts and keep the one with the highest final log-likelihood."
            )
        if ll_good - ll_stuck < _EM_WORSE:
            raise StudentError(
                f"the stuck run ends only {ll_good - ll_stuck:.3f} nats per point below the good one, at least {_EM_WORSE} "
                "needed: that is a near-tie, not a clearly worse optimum. Start it where the components must share out "
                "the clusters badly."
            )

    def success() -> str:
        return (
            f"correct: both runs converged, the good one at {found['good']:.4f} (the best EM finds), the stuck one at "
            f"{found['stuck']:.4f}, {found['good'] - found['stuck']:.3f} nats per point lower."
        )

    return run_check("em_local_optimum", body, success)


# --------------------------------------------------------------------------------------------------
# Exercise: a Monte Carlo ELBO estimate for the linear-Gaussian model
# --------------------------------------------------------------------------------------------------

_ZETA, _SIGMA_X = 1.7, 0.6  # decoder weight zeta and noise std sigma_x of the model the check uses


def _elbo_forms(
    x: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor, eps: torch.Tensor, zeta: float, sigma_x: float
) -> dict[str, torch.Tensor]:
    """The accepted ELBO estimators and the usual wrong ones, keyed by name."""
    sigma = log_sigma.exp()
    z = mu + sigma * eps
    log_lik = _log_normal(x, zeta * z, sigma_x)
    log_prior = _log_normal(z, 0.0, 1.0)
    log_q = _log_normal(z, mu, sigma)
    entropy = 0.5 * (_LOG_2PI + 1) + log_sigma
    kl = 0.5 * (mu**2 + sigma**2 - 1) - log_sigma
    forms = {
        # accepted: three unbiased estimators of the same ELBO
        "ok_mc": (log_lik + log_prior - log_q).mean(),
        "ok_entropy": (log_lik + log_prior).mean() + entropy,
        "ok_kl": log_lik.mean() - kl,
        # known mistakes
        "sum": (log_lik + log_prior - log_q).sum(),
        "no_entropy": (log_lik + log_prior).mean(),
        "plus_log_q": (log_lik + log_prior + log_q).mean(),
        "minus_entropy": (log_lik + log_prior).mean() - entropy,
        "plus_kl": log_lik.mean() + kl,
        "no_prior": (log_lik - log_q).mean(),
        "only_lik": log_lik.mean(),
        "no_zeta": (_log_normal(x, z, sigma_x) + log_prior - log_q).mean(),
        "sigma_x_as_var": (_log_normal(x, zeta * z, math.sqrt(sigma_x)) + log_prior - log_q).mean(),
    }
    z_bad = mu + log_sigma * eps  # log_sigma used as the standard deviation
    log_joint_bad = _log_normal(x, zeta * z_bad, sigma_x) + _log_normal(z_bad, 0.0, 1.0)
    forms["log_sigma_as_std"] = (log_joint_bad - _log_normal(z_bad, mu, log_sigma)).mean()
    sd_bad = (0.5 * log_sigma).exp()  # log_sigma treated as a log-variance
    z_bad = mu + sd_bad * eps
    log_joint_bad = _log_normal(x, zeta * z_bad, sigma_x) + _log_normal(z_bad, 0.0, 1.0)
    forms["log_sigma_as_logvar"] = (log_joint_bad - _log_normal(z_bad, mu, sd_bad)).mean()
    return forms


_ELBO_MISTAKES = {
    "sum": "you summed over the S samples: average them, the ELBO is an expectation.",
    "no_entropy": ("you are missing the entropy term, the -log q(z) inside the average: without it the optimum collapses q onto a point."),
    "plus_log_q": "the log q(z) term has the wrong sign: the ELBO subtracts log q(z).",
    "minus_entropy": "the entropy term has the wrong sign: the ELBO adds the entropy H[q].",
    "plus_kl": "the KL term has the wrong sign: the ELBO subtracts KL(q(z) || p(z)).",
    "no_prior": "you are missing the prior term log p(z) inside the average.",
    "only_lik": (
        "you only have the reconstruction term E_q[log p(x|z)]: the KL(q(z) || p(z)) part (or log p(z) - log q(z) inside "
        "the average) is missing."
    ),
    "no_zeta": "you forgot the decoder weight zeta: the mean of p(x|z) is zeta times z, not z.",
    "sigma_x_as_var": "you used sigma_x as the variance of p(x|z); sigma_x is the standard deviation (the variance is its square).",
    "log_sigma_as_std": "you used log_sigma as the standard deviation: it is the log of the standard deviation.",
    "log_sigma_as_logvar": (
        "you treated log_sigma as a log-variance (halving it before the exp): it is the log of the standard deviation itself."
    ),
}


def _elbo_inputs(seed: int, mu: float, log_sigma: float) -> tuple[torch.Tensor, ...]:
    """x, mu, log_sigma (0-dim, requiring grad) and eps [8] for one call of the student's estimator."""
    g = torch.Generator().manual_seed(seed)
    x = torch.tensor(1.3, dtype=torch.float64)
    mu_t = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    log_sigma_t = torch.tensor(log_sigma, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(8, generator=g, dtype=torch.float64)
    return x, mu_t, log_sigma_t, eps


def check_elbo_estimate(elbo_estimate: Callable[..., torch.Tensor]) -> Verdict:
    """Check elbo_estimate(x, mu, log_sigma, eps, zeta, sigma_x) -> scalar ELBO estimate for z~N(0,1), x|z~N(zeta z, sigma_x^2)."""

    def body() -> None:
        """Compare the value with the accepted estimators and the known mistakes, then check its gradients."""
        x, mu, log_sigma, eps = _elbo_inputs(0, 0.4, 0.25)
        value = require_scalar(call(elbo_estimate, x, mu, log_sigma, eps.clone(), _ZETA, _SIGMA_X), "the ELBO estimate")
        again = call(elbo_estimate, x, mu, log_sigma, eps.clone(), _ZETA, _SIGMA_X)
        if isinstance(again, torch.Tensor) and not is_close(value, again):
            raise StudentError("two calls with the same eps give different values: use the eps you are given, draw no new noise.")
        with torch.no_grad():
            forms = _elbo_forms(x, mu, log_sigma, eps, _ZETA, _SIGMA_X)
        accepted = [name for name in ("ok_mc", "ok_entropy", "ok_kl") if is_close(value, forms[name])]
        if not accepted:
            if any(is_close(value, -forms[name]) for name in ("ok_mc", "ok_entropy", "ok_kl")):
                raise StudentError("the sign is flipped: you returned the negative ELBO (the loss to minimise); return the ELBO.")
            for name, message in _ELBO_MISTAKES.items():
                if is_close(value, forms[name]):
                    raise StudentError(message)
            # Off by the same constant for other inputs: a dropped normalising term of a Gaussian log-density.
            x2, mu2, log_sigma2, eps2 = _elbo_inputs(1, -0.7, -0.4)
            value2 = call(elbo_estimate, x2, mu2, log_sigma2, eps2.clone(), _ZETA, _SIGMA_X)
            with torch.no_grad():
                forms2 = _elbo_forms(x2, mu2, log_sigma2, eps2, _ZETA, _SIGMA_X)
            for name in ("ok_mc", "ok_entropy", "ok_kl"):
                gap1 = (value - forms[name]).item()
                gap2 = (torch.as_tensor(value2, dtype=torch.float64) - forms2[name]).item()
                if abs(gap1 - gap2) < 1e-4:
                    raise StudentError(
                        f"your ELBO is off by a constant ({gap1:+.4f}): a normalising term of a Gaussian log-density "
                        "is missing (the log(2 pi) constant or the log of a standard deviation); keep it, or the ELBO is no "
                        "bound on log p(x)."
                    )
            raise StudentError(f"the ELBO estimate is {value.item():.6g}, expected {forms['ok_mc'].item():.6g}.")
        # Gradients must reach mu and log_sigma: that is what the reparameterisation is for.
        grads = torch.autograd.grad(value, [mu, log_sigma], allow_unused=True) if value.requires_grad else (None, None)
        if any(g is None for g in grads):
            raise StudentError(
                "the estimate is not differentiable w.r.t. mu and log_sigma: build z from mu, log_sigma and eps with "
                "torch operations (no .item(), .detach(), numpy or torch.no_grad())."
            )
        name = accepted[0]
        mu_ref = mu.detach().clone().requires_grad_()
        ls_ref = log_sigma.detach().clone().requires_grad_()
        ref_grads = torch.autograd.grad(_elbo_forms(x, mu_ref, ls_ref, eps, _ZETA, _SIGMA_X)[name], [mu_ref, ls_ref])
        if not all(is_close(g, r) for g, r in zip(grads, ref_grads, strict=True)):
            raise StudentError("the value is right but its gradients are not: is part of z detached from mu or log_sigma?")

    return run_check("elbo_estimate", body, "the Monte Carlo ELBO estimate and its gradients are right.")


# --------------------------------------------------------------------------------------------------
# Exercise: the reparameterisation trick with a log-variance
# --------------------------------------------------------------------------------------------------


def check_reparameterise(reparameterise: Callable[..., torch.Tensor]) -> Verdict:
    """Check reparameterise(mu, logvar, eps) -> z = mu + exp(0.5 * logvar) * eps, differentiable in mu and logvar."""

    def body() -> None:
        """Compare z with the reference, naming the known mistakes, then check dz/dmu and dz/dlogvar."""
        g = torch.Generator().manual_seed(3)
        mu = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_()
        logvar = (1.2 * torch.randn(4, 3, generator=g, dtype=torch.float64)).requires_grad_()
        eps = torch.randn(4, 3, generator=g, dtype=torch.float64)
        z = require_tensor(call(reparameterise, mu, logvar, eps.clone()), "z")
        require_shape(z, (4, 3), "z")
        z_again = require_tensor(call(reparameterise, mu, logvar, eps.clone()), "z")
        if not is_close(z, z_again):
            raise StudentError("two calls with the same eps give different z: use the eps you are given, draw no new noise.")
        with torch.no_grad():
            ref = mu + (0.5 * logvar).exp() * eps
        if not is_close(z, ref):
            raise StudentError(
                reparameterisation_mistake(z.detach().double(), mu.detach(), logvar.detach(), eps)
                or "z differs from the reparameterised sample for these mu, logvar and eps."
            )
        if not z.requires_grad:
            raise StudentError(
                "z is detached from mu and logvar, so no gradient reaches them: compute it with torch operations "
                "(no .detach(), .item(), numpy or torch.no_grad())."
            )
        grads = torch.autograd.grad(z.sum(), [mu, logvar], allow_unused=True)
        if grads[0] is None or not is_close(grads[0], torch.ones_like(mu)):
            raise StudentError("dz/dmu should be 1 everywhere: is mu detached somewhere?")
        if grads[1] is None or not is_close(grads[1], 0.5 * (0.5 * logvar.detach()).exp() * eps):
            raise StudentError("dz/dlogvar should be 0.5 * sigma * eps: is sigma detached from logvar?")

    return run_check("reparameterise", body, "z = mu + exp(0.5 * logvar) * eps, and gradients reach mu and logvar.")
