"""Checks for the exercises of lecture 1: Gaussian log-likelihood, Gaussian MLE and inverse-CDF sampling."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from utils.checks.core import StudentError, Verdict, call, require_shape, run_check
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

_DTYPE = torch.float64


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    """Turn a tensor, NumPy array or Python number into a float64 CPU tensor, or stop with a message."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", _DTYPE)
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    raise StudentError(f"{what} should be a torch.Tensor (or a NumPy array), got {type(value).__name__}.")


def _name_first_match(value: torch.Tensor, variants: Mapping[str, torch.Tensor], rtol: float, atol: float) -> None:
    """Stop with the message of the first known mistake whose value matches the student's, if any."""
    for message, expected in variants.items():
        if expected.shape == value.shape and torch.allclose(value, expected, rtol=rtol, atol=atol):
            raise StudentError(message)


def _random_covariance(gen: torch.Generator, d: int) -> torch.Tensor:
    """A well-conditioned, clearly non-diagonal covariance matrix [d, d]."""
    a = torch.randn(d, d, generator=gen, dtype=_DTYPE)
    return a @ a.T + 0.5 * torch.eye(d, dtype=_DTYPE)


# ---------------------------------------------------------------- Exercise: Gaussian log-likelihood


def _gaussian_terms(x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Pieces of the Gaussian log-density: constant, log-det, Mahalanobis^2 [N], and it with Sigma not inverted."""
    d = x.shape[1]
    diff = x - mu  # [N, D]
    maha = (diff * torch.linalg.solve(sigma, diff.T).T).sum(1)  # [N] squared Mahalanobis distances
    not_inverted = (diff @ sigma * diff).sum(1)  # [N] the quadratic form with Sigma instead of its inverse
    const = torch.tensor(0.5 * d * math.log(2 * math.pi), dtype=_DTYPE)
    logdet = torch.linalg.slogdet(sigma).logabsdet
    return const, logdet, maha, not_inverted


def _log_likelihood_case(fn: Callable[..., Any], x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> None:
    """Check one (x, mu, Sigma) case, stopping with the known mistake when the answer matches one."""
    n, d = x.shape
    value = call(fn, x.clone(), mu.clone(), sigma.clone())
    value = _as_tensor(value, "The average log-likelihood")
    if value.numel() == n and n > 1 and value.dim() >= 1:
        raise StudentError(
            f"your function returns one value per point (shape {list(value.shape)}): "
            "average them (e.g. with .mean()) to get the average log-likelihood."
        )
    if value.numel() != 1:
        raise StudentError(f"the average log-likelihood should be a single number, got shape {list(value.shape)}.")
    value = value.reshape(())
    if not torch.isfinite(value):
        raise StudentError(f"the average log-likelihood is {value.item()}: check for log(0) or a division by zero.")

    const, logdet, maha, not_inverted = _gaussian_terms(x, mu, sigma)
    ref = -const - 0.5 * logdet - 0.5 * maha.mean()
    if torch.allclose(value, ref, rtol=1e-5, atol=1e-6):
        return
    log2pi = math.log(2 * math.pi)
    variants = {
        "this is the sum over the data points: return the average (divide by N, or use .mean()).": ref * n,
        "the sign is flipped: return the log-likelihood, not the negative log-likelihood.": -ref,
        "this is the negative log-likelihood summed over the points; return the average log-likelihood.": -ref * n,
        "this looks like an average density, not an average log-density: take the log of each density first.": (
            torch.exp(-const - 0.5 * logdet - 0.5 * maha).mean()
        ),
        "the normalising constant -(D/2) log(2 pi) is missing.": ref + const,
        f"the normalising constant is wrong: it is -(D/2) log(2 pi), where D is the dimension of x (this case has D = {d}).": ref
        + const
        - torch.tensor([log2pi, 0.5 * log2pi, d * log2pi], dtype=_DTYPE),
        "the -(1/2) log det(Sigma) term is missing.": ref + 0.5 * logdet,
        "the log det(Sigma) term needs the factor 1/2: the density has det(Sigma)^(-1/2), so it is -(1/2) log det(Sigma).": ref
        - 0.5 * logdet,
        "the quadratic term uses Sigma where it needs its inverse: (x - mu)^T Sigma^{-1} (x - mu).": (
            -const - 0.5 * logdet - 0.5 * not_inverted.mean()
        ),
        "the quadratic term needs the factor 1/2: -(1/2) (x - mu)^T Sigma^{-1} (x - mu).": (-const - 0.5 * logdet - maha.mean()),
    }
    for message, expected in variants.items():
        if bool(torch.isclose(value, expected.reshape(-1), rtol=1e-5, atol=1e-6).any()):
            raise StudentError(message)
    raise StudentError(f"the average log-likelihood is {value.item():.6g}, expected {ref.item():.6g} (D = {d}, N = {n}).")


def check_gaussian_log_likelihood(fn: Callable[..., Any]) -> Verdict:
    """Check fn(x [N, D], mu [D], Sigma [D, D]) -> average log N(x_i; mu, Sigma) over the N points."""

    def body() -> None:
        """Run a 2D and a 3D case; stop at the first problem found."""
        gen = torch.Generator().manual_seed(1)
        for n, d in ((50, 2), (20, 3)):
            mu = torch.randn(d, generator=gen, dtype=_DTYPE) * 2
            sigma = _random_covariance(gen, d)
            x = mu + torch.randn(n, d, generator=gen, dtype=_DTYPE) @ torch.linalg.cholesky(sigma).T  # [N, D]
            _log_likelihood_case(fn, x, mu, sigma)

    success = "correct: it matches the average log-density in 2 and 3 dimensions."
    return run_check("gaussian_log_likelihood", body, success)


# ---------------------------------------------------------------- Exercise: Gaussian maximum likelihood


def _mle_case(fn: Callable[..., Any], x: torch.Tensor) -> None:
    """Check one data set x [N, D] against the sample mean and the 1/N covariance."""
    n, d = x.shape
    result = call(fn, x.clone())
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise StudentError(f"your function should return a pair (mu_hat, Sigma_hat), got {type(result).__name__}.")
    mu_hat = _as_tensor(result[0], "mu_hat")
    sigma_hat = _as_tensor(result[1], "Sigma_hat")
    if tuple(mu_hat.shape) == (n,):
        raise StudentError(f"mu_hat has shape [{n}] (one per data point): average over the points (dim=0) to get shape [{d}].")
    require_shape(mu_hat, (d,), "mu_hat")
    if tuple(sigma_hat.shape) == (n, n):
        raise StudentError(
            f"Sigma_hat has shape [{n}, {n}]: the product is the wrong way round; the transposed centred data must "
            f"come first, so that the sum runs over the {n} points and gives a [{d}, {d}] matrix."
        )
    require_shape(sigma_hat, (d, d), "Sigma_hat")

    mu_ref = x.mean(0)
    diff = x - mu_ref  # [N, D]
    sigma_ref = diff.T @ diff / n  # [D, D]
    if not torch.allclose(mu_hat, mu_ref, rtol=1e-5, atol=1e-7):
        if torch.allclose(mu_hat, x.sum(0), rtol=1e-5, atol=1e-7):
            raise StudentError("mu_hat is the sum of the points: divide by N to get the sample mean.")
        raise StudentError("mu_hat is not the sample mean of the data (the average of the points over dim=0).")
    if torch.allclose(sigma_hat, sigma_ref, rtol=1e-5, atol=1e-7):
        return
    variants = {
        f"Sigma_hat divides by N - 1 = {n - 1} (the unbiased estimator, which is what torch.cov and np.cov "
        f"compute by default); the maximum-likelihood estimate divides by N = {n}.": diff.T @ diff / (n - 1),
        "Sigma_hat is computed from x without subtracting the mean first: center the data, x - mu_hat.": x.T @ x / n,
        "Sigma_hat forgets to center the data (use x - mu_hat) and divides by N - 1 instead of N.": x.T @ x / (n - 1),
        "Sigma_hat is the sum of the outer products: divide by N.": diff.T @ diff,
        "Sigma_hat has only the variances on its diagonal: the off-diagonal covariances are missing.": torch.diag(
            torch.diagonal(sigma_ref)
        ),
        "Sigma_hat looks like standard deviations on the diagonal: the covariance holds variances (no square root).": (
            torch.diag(torch.diagonal(sigma_ref).sqrt())
        ),
    }
    _name_first_match(sigma_hat, variants, rtol=1e-5, atol=1e-7)
    if not torch.allclose(sigma_hat, sigma_hat.T, rtol=1e-5, atol=1e-7):
        raise StudentError("Sigma_hat is not symmetric: a covariance matrix always is.")
    worst = (sigma_hat - sigma_ref).abs().max().item()
    raise StudentError(f"Sigma_hat differs from the maximum-likelihood covariance (largest difference {worst:.3g}).")


def check_gaussian_mle(fn: Callable[..., Any]) -> Verdict:
    """Check fn(x [N, D]) -> (mu_hat [D], Sigma_hat [D, D]), the maximum-likelihood Gaussian."""

    def body() -> None:
        """Run a 3D and a 2D off-centre data set; stop at the first problem found."""
        gen = torch.Generator().manual_seed(2)
        for n, d in ((9, 3), (6, 2)):
            shift = torch.linspace(3.0, -4.0, d, dtype=_DTYPE)  # far from 0, so forgetting to center shows
            scale = torch.linalg.cholesky(_random_covariance(gen, d))  # [D, D]
            x = shift + torch.randn(n, d, generator=gen, dtype=_DTYPE) @ scale.T  # [N, D]
            _mle_case(fn, x)

    return run_check("gaussian_mle", body, "correct: the sample mean and the covariance with divisor N.")


# ---------------------------------------------------------------- Exercise: inverse-CDF sampling on a grid


def _grid_cdf(grid: torch.Tensor, density: torch.Tensor) -> torch.Tensor:
    """The CDF of a density tabulated on a grid: trapezoid rule, starting at 0 and normalised to end at 1."""
    steps = 0.5 * (density[1:] + density[:-1]) * grid.diff()  # [G - 1] area of each grid cell
    cdf = torch.cat([torch.zeros(1, dtype=_DTYPE), steps.cumsum(0)])  # [G]
    return cdf / cdf[-1]


def _interp(u: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of fp(xp) at u, like np.interp (xp increasing)."""
    return torch.as_tensor(np.interp(u.numpy(), xp.numpy(), fp.numpy()), dtype=_DTYPE)


def check_inverse_cdf_sampler(fn: Callable[..., Any]) -> Verdict:
    """Check fn(u [M], grid [G], density [G]) -> x [M] = F^{-1}(u) for a density tabulated on a grid."""

    def body() -> None:
        """Sample a bimodal, unnormalised density on a grid; stop at the problem found."""
        grid = torch.linspace(-6.0, 7.0, 521, dtype=_DTYPE)  # [G]
        dx = (grid[1] - grid[0]).item()
        bump = lambda m, s: torch.exp(-0.5 * ((grid - m) / s) ** 2) / s  # noqa: E731
        density = 3.7 * (0.6 * bump(-1.5, 0.6) + 0.4 * bump(2.0, 1.0))  # [G], deliberately not normalised
        gen = torch.Generator().manual_seed(3)
        u = 0.02 + 0.96 * torch.rand(400, generator=gen, dtype=_DTYPE)  # [M], unsorted, away from the flat tails

        x = _as_tensor(call(fn, u.clone(), grid.clone(), density.clone()), "The samples")
        if tuple(x.shape) != tuple(u.shape):
            raise StudentError(f"the samples have shape {list(x.shape)}, expected {list(u.shape)}: one x per u.")
        if not torch.isfinite(x).all():
            raise StudentError("some samples are NaN or infinite: check the CDF for a division by zero.")

        cdf = _grid_cdf(grid, density)
        ref = _interp(u, cdf, grid)
        tol = 3 * dx
        if (x - ref).abs().max() <= tol:
            return
        raw_cdf = density.cumsum(0)
        variants = {
            "your function returns CDF values, not points x: the arguments of the interpolation are swapped; "
            "look u up among the CDF values and return the grid points that match, not the other way round.": (_interp(u, grid, cdf)),
            "the CDF is not normalised: divide it by its last value so that it ends at exactly 1 "
            "(the density you are given need not integrate to 1).": _interp(u, raw_cdf * dx, grid),
            "the CDF is not normalised: divide the cumulative sum by its last value so that it ends at exactly 1.": (
                _interp(u, raw_cdf, grid)
            ),
            "the samples are spread uniformly over the grid: the density was ignored.": (grid[0] + u * (grid[-1] - grid[0])),
        }
        for message, expected in variants.items():
            if (x - expected).abs().max() <= tol:
                raise StudentError(message)
        order = torch.argsort(u)
        if (x[order].diff() < -tol).any():
            raise StudentError("x = F^{-1}(u) must grow with u (a larger u gives a larger or equal x), but yours does not.")
        worst = (x - ref).abs().max().item()
        raise StudentError(f"the samples differ from F^{{-1}}(u) by up to {worst:.3g} (allowed: {tol:.3g}, three grid steps).")

    success = "correct: your samples follow the inverse CDF of the tabulated density."
    return run_check("inverse_cdf_sampler", body, success)
