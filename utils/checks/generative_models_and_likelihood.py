"""Checks for the exercises of lecture 1: Gaussian log-likelihood, Gaussian MLE, K by held-out likelihood, inverse CDF."""

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
    diff = x - mu  # [N, d_x]
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
            "average them over the points to get the average log-likelihood."
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
        "this is the sum over the data points: return the average (divide by N).": ref * n,
        "the sign is flipped: return the log-likelihood, not the negative log-likelihood.": -ref,
        "this is the negative log-likelihood summed over the points; return the average log-likelihood.": -ref * n,
        "this looks like an average density, not an average log-density: take the log of each density first.": (
            torch.exp(-const - 0.5 * logdet - 0.5 * maha).mean()
        ),
        "the normalising constant -(d_x/2) log(2 pi) is missing.": ref + const,
        f"the normalising constant is wrong: it is -(d_x/2) log(2 pi), where d_x is the dimension of x (this case has d_x = {d}).": ref
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
    raise StudentError(f"the average log-likelihood is {value.item():.6g}, expected {ref.item():.6g} (d_x = {d}, N = {n}).")


def check_gaussian_log_likelihood(fn: Callable[..., Any]) -> Verdict:
    """Check fn(x [N, d_x], mu [d_x], Sigma [d_x, d_x]) -> average log N(x_i; mu, Sigma) over the N points."""

    def body() -> None:
        """Run a 2D and a 3D case; stop at the first problem found."""
        gen = torch.Generator().manual_seed(1)
        for n, d in ((50, 2), (20, 3)):
            mu = torch.randn(d, generator=gen, dtype=_DTYPE) * 2
            sigma = _random_covariance(gen, d)
            x = mu + torch.randn(n, d, generator=gen, dtype=_DTYPE) @ torch.linalg.cholesky(sigma).T  # [N, d_x]
            _log_likelihood_case(fn, x, mu, sigma)

    success = "correct: it matches the average log-density in 2 and 3 dimensions."
    return run_check("gaussian_log_likelihood", body, success)


# ---------------------------------------------------------------- Exercise: Gaussian maximum likelihood


def _mle_case(fn: Callable[..., Any], x: torch.Tensor) -> None:
    """Check one data set x [N, d_x] against the sample mean and the 1/N covariance."""
    n, d = x.shape
    result = call(fn, x.clone())
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise StudentError(f"your function should return a pair (mu_hat, Sigma_hat), got {type(result).__name__}.")
    mu_hat = _as_tensor(result[0], "mu_hat")
    sigma_hat = _as_tensor(result[1], "Sigma_hat")
    if tuple(mu_hat.shape) == (n,):
        raise StudentError(
            f"mu_hat has shape [{n}] (one per data point): average over the points, the first dimension of x, to get shape [{d}]."
        )
    require_shape(mu_hat, (d,), "mu_hat")
    if tuple(sigma_hat.shape) == (n, n):
        raise StudentError(
            f"Sigma_hat has shape [{n}, {n}]: the product is the wrong way round; the transposed centred data must "
            f"come first, so that the sum runs over the {n} points and gives a [{d}, {d}] matrix."
        )
    require_shape(sigma_hat, (d, d), "Sigma_hat")

    mu_ref = x.mean(0)
    diff = x - mu_ref  # [N, d_x]
    sigma_ref = diff.T @ diff / n  # [d_x, d_x]
    if not torch.allclose(mu_hat, mu_ref, rtol=1e-5, atol=1e-7):
        if torch.allclose(mu_hat, x.sum(0), rtol=1e-5, atol=1e-7):
            raise StudentError("mu_hat is the sum of the points: divide by N to get the sample mean.")
        raise StudentError("mu_hat is not the sample mean of the data (the average of the N points).")
    if torch.allclose(sigma_hat, sigma_ref, rtol=1e-5, atol=1e-7):
        return
    variants = {
        f"Sigma_hat divides by N - 1 = {n - 1} (the unbiased estimator, which the usual library covariance functions "
        f"compute by default); the maximum-likelihood estimate divides by N = {n}.": diff.T @ diff / (n - 1),
        "Sigma_hat is computed from x without subtracting the mean first: the outer products must be of centred points.": x.T @ x / n,
        "Sigma_hat forgets to center the data (subtract the sample mean first) and divides by N - 1 instead of N.": x.T @ x / (n - 1),
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
    """Check fn(x [N, d_x]) -> (mu_hat [d_x], Sigma_hat [d_x, d_x]), the maximum-likelihood Gaussian."""

    def body() -> None:
        """Run a 3D and a 2D off-centre data set; stop at the first problem found."""
        gen = torch.Generator().manual_seed(2)
        for n, d in ((9, 3), (6, 2)):
            shift = torch.linspace(3.0, -4.0, d, dtype=_DTYPE)  # far from 0, so forgetting to center shows
            scale = torch.linalg.cholesky(_random_covariance(gen, d))  # [d_x, d_x]
            x = shift + torch.randn(n, d, generator=gen, dtype=_DTYPE) @ scale.T  # [N, d_x]
            _mle_case(fn, x)

    return run_check("gaussian_mle", body, "correct: the sample mean and the covariance with divisor N.")


# ---------------------------------------------------------------- Experiment: choosing K by held-out likelihood

MODEL_SELECTION_KS = (1, 2, 3, 4, 6)
_K1_TOL = 0.002  # |K = 1 fit - closed-form Gaussian MLE|, in nats per point: converged fits measured within 1e-4
_K3_GAIN = 1.0  # held-out gain of K = 3 over K = 1: measured 1.18 (fast and full), 0.84 for a K = 3 fit stuck on 2 clusters
_TRAIN_DROP = 0.01  # allowed fall of the training curve with K: measured 0 (lecture's fits), 0.002 (random initialisations)
_BEST_TOL = 0.01  # K = 3 counts as chosen within this of the best held-out value: measured 0 to 0.0004 below the best


def _pair_of_numbers(value: Any, k: int, n_train: int) -> tuple[float, float]:
    """The (train, test) pair of one K as two floats, or stop naming the shape problem."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise StudentError(
            f"the value for K = {k} should be a pair (train_ll, test_ll), got {type(value).__name__}"
            + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "")
            + "."
        )
    pair = []
    for what, v in zip(("train_ll", "test_ll"), value, strict=True):
        t = _as_tensor(v, f"{what} for K = {k}")
        if t.numel() >= n_train // 2:
            raise StudentError(f"{what} for K = {k} holds {t.numel()} numbers, one per point: average them into one number per data set.")
        if t.numel() != 1:
            raise StudentError(f"{what} for K = {k} should be a single number, got shape {list(t.shape)}.")
        pair.append(t.reshape(()).item())
    return pair[0], pair[1]


def _read_selection(results: Any, n_train: int) -> dict[int, tuple[float, float]]:
    """The student's outcome as {K: (train_ll, test_ll)} over MODEL_SELECTION_KS, or stop naming the problem."""
    if not isinstance(results, Mapping):
        raise StudentError(f"your function should return a dict {{K: (train_ll, test_ll)}}, got {type(results).__name__}.")
    try:
        keys = {int(k): k for k in results}
    except (TypeError, ValueError):
        raise StudentError(f"the keys of your dict should be the numbers of components K, got {list(results)}.") from None
    if set(keys) != set(MODEL_SELECTION_KS):
        raise StudentError(f"your dict should have one entry for each K in {list(MODEL_SELECTION_KS)}, got keys {sorted(keys)}.")
    out = {k: _pair_of_numbers(results[keys[k]], k, n_train) for k in MODEL_SELECTION_KS}
    if not all(math.isfinite(v) for pair in out.values() for v in pair):
        raise StudentError("some log-likelihoods are NaN or infinite: check the fits (a covariance that collapsed?).")
    return out


def _judge_selection(ll: dict[int, tuple[float, float]], x: torch.Tensor, x_test: torch.Tensor) -> None:
    """Judge the {K: (train, test)} outcome against the closed-form K = 1 fit and the shape of both curves."""
    train = {k: v[0] for k, v in ll.items()}
    test = {k: v[1] for k, v in ll.items()}
    biggest = max((v for pair in ll.values() for v in pair), key=abs)
    if abs(biggest) > 50:
        raise StudentError(
            f"values such as {biggest:.0f} scale with the number of points: these are sums over the points; "
            "report the average log-likelihood per point (divide by N)."
        )
    if all(abs(train[k] - test[k]) < 1e-9 for k in MODEL_SELECTION_KS):
        raise StudentError(
            "your held-out values equal the training values: both were computed on the training points; "
            "score each fitted mixture on the held-out points as well."
        )
    mu = x.mean(0)
    single = torch.distributions.MultivariateNormal(mu, (x - mu).T @ (x - mu) / len(x))  # K = 1 in closed form
    ref_train, ref_test = single.log_prob(x).mean().item(), single.log_prob(x_test).mean().item()
    near = lambda a, b: abs(a[0] - b[0]) <= _K1_TOL and abs(a[1] - b[1]) <= _K1_TOL
    if not near(ll[1], (ref_train, ref_test)):
        if near(ll[1], (ref_test, ref_train)):
            raise StudentError(
                "train and held-out are swapped: your 'train' value for K = 1 is the Gaussian's average log-likelihood "
                "on the held-out points, and your 'test' value the one on the training points."
            )
        if near(ll[1], (-ref_train, -ref_test)):
            raise StudentError("the signs are flipped: report the average log-likelihood, not the negative log-likelihood.")
        raise StudentError(
            f"the K = 1 fit did not converge: a single Gaussian's best average log-likelihood on the training points is "
            f"{ref_train:.4f} (its closed-form MLE), yours is {train[1]:.4f}; train longer or with the lecture's learning rate."
        )
    gain = test[3] - test[1]
    if gain < _K3_GAIN:
        raise StudentError(
            f"the K = 3 mixture gains only {gain:.3f} nats per held-out point over one Gaussian (a converged fit gains "
            f"more than {_K3_GAIN}): the K = 3 fit did not converge or is stuck with two components on one cluster; "
            "train longer, or start the means far apart as the lecture does."
        )
    for small in MODEL_SELECTION_KS:
        for big in (k for k in MODEL_SELECTION_KS if k > small):
            if train[big] < train[small] - _TRAIN_DROP:
                raise StudentError(
                    f"the training log-likelihood falls from {train[small]:.4f} at K = {small} to {train[big]:.4f} at "
                    f"K = {big}: a richer mixture can fit its training points at least as well, so the K = {big} fit "
                    "did not converge (more steps, or the lecture's initialisation)."
                )
    best = max(MODEL_SELECTION_KS, key=test.__getitem__)
    if test[3] < test[best] - _BEST_TOL:
        raise StudentError(
            f"your held-out curve still rises after K = 3 (best K = {best}, {test[best]:.4f} against {test[3]:.4f}): "
            "a held-out curve that keeps rising like a training curve means the smaller fits have not converged, or "
            "the held-out points leaked into the fits."
        )
    chosen = _chosen_k(test)
    if chosen < 3:
        raise StudentError(
            f"your held-out curve already peaks at K = {chosen} ({test[chosen]:.4f}), but a mixture of {chosen} cannot "
            "cover three clusters: is each pair stored under the K it was fitted with?"
        )


def _chosen_k(test: dict[int, float]) -> int:
    """The smallest K whose held-out value is within _BEST_TOL of the best one."""
    best = max(test.values())
    return min(k for k, v in test.items() if v >= best - _BEST_TOL)


def check_model_selection(fn: Callable[..., Any], x: torch.Tensor, x_test: torch.Tensor) -> Verdict:
    """Check fn(x, x_test) -> {K: (train_ll, test_ll)}: the held-out curve picks K = 3, the training curve rises."""
    found: dict[int, tuple[float, float]] = {}

    def body() -> None:
        """Run the student's experiment once and judge its outcome."""
        x_ref, x_test_ref = _as_tensor(x, "X"), _as_tensor(x_test, "X_test")
        found.update(_read_selection(call(fn, x.clone(), x_test.clone()), len(x_ref)))
        _judge_selection(found, x_ref, x_test_ref)

    def success() -> str:
        """The pass message, with the numbers that decide."""
        test = {k: v[1] for k, v in found.items()}
        best = max(MODEL_SELECTION_KS, key=test.__getitem__)
        tie = "" if best == 3 else f", within {_BEST_TOL} of the best (K = {best})"
        return (
            f"correct: the held-out log-likelihood picks K = 3 ({test[3]:.4f}{tie}; {test[2]:.4f} at K = 2, "
            f"{test[6]:.4f} at K = 6), while the training log-likelihood rises with K."
        )

    return run_check("model_selection", body, success)


# ---------------------------------------------------------------- Exercise: inverse-CDF sampling on a grid


def _grid_cdf(grid: torch.Tensor, density: torch.Tensor) -> torch.Tensor:
    """The CDF of a density tabulated on a grid: trapezoid rule, starting at 0 and normalised to end at 1."""
    steps = 0.5 * (density[1:] + density[:-1]) * grid.diff()  # [m - 1] area of each grid cell
    cdf = torch.cat([torch.zeros(1, dtype=_DTYPE), steps.cumsum(0)])  # [m]
    return cdf / cdf[-1]


def _interp(u: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of fp(xp) at u, like np.interp (xp increasing)."""
    return torch.as_tensor(np.interp(u.numpy(), xp.numpy(), fp.numpy()), dtype=_DTYPE)


def check_inverse_cdf_sampler(fn: Callable[..., Any]) -> Verdict:
    """Check fn(u [n], grid [m], density [m]) -> x [n] = F^{-1}(u) for a density tabulated on a grid."""

    def body() -> None:
        """Sample a bimodal, unnormalised density on a grid; stop at the problem found."""
        grid = torch.linspace(-6.0, 7.0, 521, dtype=_DTYPE)  # [m]
        dx = (grid[1] - grid[0]).item()
        bump = lambda m, s: torch.exp(-0.5 * ((grid - m) / s) ** 2) / s  # noqa: E731
        density = 3.7 * (0.6 * bump(-1.5, 0.6) + 0.4 * bump(2.0, 1.0))  # [m], deliberately not normalised
        gen = torch.Generator().manual_seed(3)
        u = 0.02 + 0.96 * torch.rand(400, generator=gen, dtype=_DTYPE)  # [n], unsorted, away from the flat tails

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
