"""Checks for lecture 2 (entropy, cross-entropy, KL): entropy in bits, categorical KL, forward and reverse KL fits, Gaussian KL."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import torch

from utils.checks.core import StudentError, Verdict, call, is_close, require_tensor, require_values, run_check
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

Tensor = torch.Tensor
LN2 = math.log(2.0)


def _as64(t: Tensor) -> Tensor:
    """A detached float64 CPU copy of a tensor, for comparisons."""
    return t.detach().to(dtype=torch.float64, device="cpu")


_close = partial(is_close, atol=1e-6)  # this module compares with a tighter absolute tolerance


def _xlog2y(x: Tensor, y: Tensor) -> Tensor:
    """x * log2(y) with the convention 0 * log2(anything) = 0."""
    return torch.special.xlogy(x, y) / LN2


def _ref_entropy(p: Tensor) -> Tensor:
    """Reference entropy in bits over the last dimension."""
    return -_xlog2y(p, p).sum(-1)


def _ref_cross_entropy(p: Tensor, q: Tensor) -> Tensor:
    """Reference cross-entropy H(p, q) in bits over the last dimension."""
    return -_xlog2y(p, q).sum(-1)


def _ref_kl(p: Tensor, q: Tensor) -> Tensor:
    """Reference KL(p || q) in bits over the last dimension (inf where q = 0 < p)."""
    terms = torch.where(p > 0, p * (torch.log2(p) - torch.log2(q)), torch.zeros_like(p))
    return terms.sum(-1)


def _ref_gaussian_kl(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    """Reference KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)) in nats, elementwise."""
    return torch.log(sigma2 / sigma1) + (sigma1**2 + (mu1 - mu2) ** 2) / (2 * sigma2**2) - 0.5


def _value(
    fn: Callable[..., Tensor],
    args: Sequence[Tensor],
    what: str,
    shape: Sequence[int],
    hint: Callable[[tuple[int, ...]], str | None] | None = None,
) -> Tensor:
    """Call the student's function on fresh copies of args, require a tensor of this shape, return it as float64."""
    out = require_tensor(call(fn, *[a.clone() for a in args]), what)
    got = tuple(out.shape)
    if got != tuple(shape):
        why = hint(got) if hint is not None else None
        raise StudentError(f"{what} has shape {list(got)}, expected {list(shape)}" + (f": {why}" if why else "."))
    return _as64(out)


def _diagnose(actual: Tensor, expected: Tensor, what: str, mistakes: Sequence[tuple[Tensor, str]]) -> None:
    """Stop with the message of the first known mistake actual matches, or a generic one, unless it is right."""
    if _close(actual, expected):
        return
    if torch.isnan(actual).any():
        raise StudentError(f"{what} contains nan: look for 0 * log(0) or log of a negative number.")
    for wrong, message in mistakes:
        if _close(actual, _as64(wrong)):
            raise StudentError(message)
    if actual.numel() == 1:
        raise StudentError(f"{what} is {actual.item():.6g}, expected {expected.item():.6g}.")
    worst = (actual - expected).abs().max().item()
    raise StudentError(f"{what} differs from the expected values (largest difference {worst:.3g}).")


def _reduce_hint(batch: int | None, k: int) -> Callable[[tuple[int, ...]], str | None]:
    """Explain a wrong output shape of a function that should sum over the last dimension of [batch, k] (or [k])."""

    def hint(shape: tuple[int, ...]) -> str | None:
        if batch is None and shape == (k,):
            return "you returned one term per outcome; sum the terms over the last dimension."
        if batch is not None and shape == ():
            return "you summed over all dimensions; sum over the last one only, one value per row."
        if batch is not None and shape == (batch, k):
            return "you returned one term per outcome; sum the terms over the last dimension."
        if batch is not None and shape == (k,):
            return "you summed over the wrong dimension; sum over the last one, not the first."

    return hint


# ---------------------------------------------------------------------------------------------------------------
# Exercise: entropy in bits
# ---------------------------------------------------------------------------------------------------------------


def check_entropy_bits(entropy_bits: Callable[[Tensor], Tensor]) -> Verdict:
    """Check entropy_bits(p): entropy in bits over the last dimension, with 0 log 0 = 0."""

    def body() -> None:
        p = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625], dtype=torch.float64)
        h_ref = _ref_entropy(p)
        h = _value(entropy_bits, [p], "entropy_bits(p) for p of shape [5]", [], _reduce_hint(None, 5))
        _diagnose(
            h,
            h_ref,
            "entropy_bits(p)",
            [
                (h_ref * LN2, "your entropy is in nats (natural log): entropy in bits needs the base-2 logarithm."),
                (h_ref * LN2 / math.log(10), "you used log10: entropy in bits needs the base-2 logarithm."),
                (-h_ref, "the sign is flipped: an entropy, the expected surprise -log2 p, is never negative."),
                (-torch.log2(p).sum(), "each surprise -log2 p_k must be weighted by its probability p_k before summing."),
                (torch.tensor(math.log2(5.0)), "you returned log2(K), the entropy of a uniform distribution; weight by p."),
                (h_ref / 5, "you averaged the terms (mean) instead of summing them."),
            ],
        )

        uniform = torch.full((8,), 1 / 8, dtype=torch.float64)
        h8 = _value(entropy_bits, [uniform], "entropy_bits(uniform over 8)", [])
        _diagnose(h8, torch.tensor(3.0, dtype=torch.float64), "entropy_bits(uniform over 8)", [])

        with_zeros = torch.tensor([0.5, 0.0, 0.5, 0.0], dtype=torch.float64)
        hz = _value(entropy_bits, [with_zeros], "entropy_bits([0.5, 0, 0.5, 0])", [])
        if torch.isnan(hz).any():
            raise StudentError(
                "entropy_bits([0.5, 0, 0.5, 0]) is nan: outcomes with p = 0 must contribute 0 "
                "(0 * log 0 = 0), but 0 * log2(0) computes 0 * -inf = nan; mask those terms so they are exactly 0."
            )
        _diagnose(hz, torch.tensor(1.0, dtype=torch.float64), "entropy_bits([0.5, 0, 0.5, 0])", [])

        gen = torch.Generator().manual_seed(0)
        batch = torch.rand(4, 6, generator=gen, dtype=torch.float64) + 0.05
        batch = batch / batch.sum(-1, keepdim=True)  # [4, 6], rows sum to 1
        batch[3] = torch.tensor([0.0, 0.5, 0.0, 0.25, 0.25, 0.0], dtype=torch.float64)
        hb = _value(entropy_bits, [batch], "entropy_bits(p) for p of shape [4, 6]", [4], _reduce_hint(4, 6))
        _diagnose(hb, _ref_entropy(batch), "entropy_bits(p) for p of shape [4, 6]", [])

    return run_check("entropy_bits", body, "correct: entropy in bits, zeros handled, one value per row.")


# ---------------------------------------------------------------------------------------------------------------
# Exercise: KL divergence between categorical distributions
# ---------------------------------------------------------------------------------------------------------------


def check_kl_divergence(kl_divergence: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check kl_divergence(p, q): KL(p || q) in bits over the last dimension, zeros and infinities handled."""

    def body() -> None:
        p = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
        q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
        kl = _value(kl_divergence, [p, q], "kl_divergence(p, q) for p, q of shape [3]", [], _reduce_hint(None, 3))
        ref = _ref_kl(p, q)
        _diagnose(
            kl,
            ref,
            "kl_divergence(p, q)",
            [
                (_ref_kl(q, p), "you computed KL(q || p): p and q are swapped; in KL(p || q) the log ratio is weighted by p."),
                (ref * LN2, "your KL is in nats (natural log): KL in bits needs the base-2 logarithm."),
                (_ref_kl(q, p) * LN2, "p and q are swapped (weight the log ratio by p), and the log is natural (bits need log2)."),
                (-ref, "the sign is flipped: use log(p / q), not log(q / p). KL is never negative."),
                (
                    _ref_cross_entropy(p, q),
                    "that is the cross-entropy H(p, q): KL(p || q) = H(p, q) - H(p), so the entropy term is missing.",
                ),
                (-_ref_cross_entropy(p, q), "that is -H(p, q) = sum p log2 q: the log2 p term is missing."),
                (
                    _ref_entropy(p) - _ref_entropy(q),
                    "that is H(p) - H(q), a difference of entropies: KL compares the "
                    "two distributions outcome by outcome, through the log ratio of their probabilities.",
                ),
                (
                    _ref_entropy(q) - _ref_entropy(p),
                    "that is H(q) - H(p), a difference of entropies: KL compares the "
                    "two distributions outcome by outcome, through the log ratio of their probabilities.",
                ),
            ],
        )

        p0 = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
        q0 = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
        kz = _value(kl_divergence, [p0, q0], "kl_divergence(p, q) with p = [0.5, 0.5, 0, 0]", [])
        if torch.isnan(kz).any():
            raise StudentError(
                "kl_divergence(p, q) is nan when p has zeros: outcomes with p_k = 0 contribute 0 "
                "(0 * log 0 = 0), but the product computes 0 * -inf = nan; mask those terms so they are exactly 0."
            )
        _diagnose(kz, _ref_kl(p0, q0), "kl_divergence(p, q) with p = [0.5, 0.5, 0, 0]", [])

        p00 = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
        q00 = torch.tensor([0.25, 0.75, 0.0], dtype=torch.float64)
        k00 = _value(kl_divergence, [p00, q00], "kl_divergence(p, q) with p_k = q_k = 0 for one k", [])
        if torch.isnan(k00).any():
            raise StudentError(
                "kl_divergence(p, q) is nan when p_k = q_k = 0: such outcomes never happen under p "
                "and contribute 0; make sure the p = 0 mask also covers log(q) = -inf there."
            )
        _diagnose(k00, _ref_kl(p00, q00), "kl_divergence(p, q) with p_k = q_k = 0 for one k", [])

        pi = torch.tensor([0.5, 0.5], dtype=torch.float64)
        qi = torch.tensor([1.0, 0.0], dtype=torch.float64)
        kinf = _value(kl_divergence, [pi, qi], "kl_divergence([0.5, 0.5], [1, 0])", [])
        if torch.isnan(kinf).any():
            raise StudentError(
                "kl_divergence([0.5, 0.5], [1, 0]) is nan, expected inf: where q_k = 0 < p_k the "
                "code length -log2 q_k is infinite, so the KL is +inf."
            )
        if not bool(torch.isposinf(kinf).all()):
            raise StudentError(
                f"kl_divergence([0.5, 0.5], [1, 0]) is {kinf.item():.6g}, expected inf: q gives "
                "probability 0 to an outcome p can produce. Did you add an epsilon or clamp q?"
            )

        gen = torch.Generator().manual_seed(1)
        pb = torch.rand(5, 4, generator=gen, dtype=torch.float64) + 0.05
        qb = torch.rand(5, 4, generator=gen, dtype=torch.float64) + 0.05
        pb, qb = pb / pb.sum(-1, keepdim=True), qb / qb.sum(-1, keepdim=True)  # rows sum to 1
        kb = _value(kl_divergence, [pb, qb], "kl_divergence(p, q) for p, q of shape [5, 4]", [5], _reduce_hint(5, 4))
        _diagnose(kb, _ref_kl(pb, qb), "kl_divergence(p, q) for p, q of shape [5, 4]", [])

    return run_check("kl_divergence", body, "correct: KL(p || q) in bits, zeros and infinities handled.")


# ---------------------------------------------------------------------------------------------------------------
# Exercise (experiment): fitting a Gaussian to two modes by forward and by reverse KL
# ---------------------------------------------------------------------------------------------------------------

FitFn = Callable[[str, float, int], tuple[float, float, float]]
_SIGMA0 = 1.0  # every fit starts from sigma = 1, as the statement says
_STARTS = (("forward", 1.0), ("reverse", -1.0), ("reverse", 1.0))  # (direction, mu_init) of the check's fits
_TOL = 0.1  # a fit is at a target when its mu and its sigma are both within this of the target's
_KL_TOL = 0.01  # the returned KL may lag the returned (mu, sigma) by one optimiser step


def _num(x: float, digits: int) -> str:
    """x to this many decimals, without the minus sign of a rounded -0."""
    return f"{round(x, digits) + 0.0:.{digits}f}"


class _Fit(NamedTuple):
    """One of the check's runs of the student's fit_gaussian, and what its outcome looks like."""

    direction: str
    mu_init: float
    mu: float
    sigma: float
    kl: float
    kind: str  # 'cover', 'left', 'right', 'start', 'diverged', 'collapsed', 'middle' or 'other'

    def where(self) -> str:
        """Where the fit started and ended, for a message."""
        return f"the {self.direction} fit from mu = {self.mu_init:g} ended at mu = {_num(self.mu, 3)}, sigma = {self.sigma:.3f}"


def _grid_kl(log_a: Tensor, log_b: Tensor, dx: float) -> float:
    """KL(a || b) in nats by a Riemann sum over the grid, from log-densities."""
    return float((log_a.exp() * (log_a - log_b)).sum() * dx)


def _modes(x_grid: Tensor, log_p: Tensor) -> list[tuple[float, float]]:
    """(location, width) of every local maximum of log p on the grid; the width is (-d^2 log p / dx^2)^(-1/2)."""
    dx = float(x_grid[1] - x_grid[0])
    inner = log_p[1:-1]
    peaks = (torch.nonzero((inner > log_p[:-2]) & (inner > log_p[2:])).flatten() + 1).tolist()
    return [(float(x_grid[i]), float((-(log_p[i + 1] - 2 * log_p[i] + log_p[i - 1]) / dx**2).rsqrt())) for i in peaks]


def _run_fit(fit_gaussian: FitFn, direction: str, mu_init: float, steps: int) -> tuple[float, float, float]:
    """Run one of the student's fits and return (mu, sigma, kl) as finite floats, or stop naming what went wrong."""
    what = f'fit_gaussian("{direction}", {mu_init:g}, {steps})'
    try:
        out = call(fit_gaussian, direction, mu_init, steps)
    except ValueError as err:
        if "GreaterThan" not in str(err):
            raise
        raise StudentError(
            f"{what} crashed because sigma reached zero or went negative during the fit (the normal distribution "
            "refused it): an optimiser step can move a parameter anywhere, so optimise a quantity that maps to a "
            "positive sigma whatever its value, not sigma itself."
        ) from None
    require_values(out, 3, f"{what} should return three numbers, (mu, sigma, kl), got {{got}}.")
    values = []
    for name, v in zip(("mu", "sigma", "kl"), out, strict=True):
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise StudentError(f"{what} returned a {type(v).__name__} as {name}: return three numbers (floats).")
        values.append(float(v))
    mu, sigma, kl = values
    if not all(math.isfinite(v) for v in values):
        raise StudentError(
            f"{what} returned mu = {mu:.4g}, sigma = {sigma:.4g}, kl = {kl:.4g}: nan or inf means the fit blew up; a "
            "sigma that went negative (its log is nan) or a learning rate far too large are the usual causes."
        )
    return mu, sigma, kl


def check_fit_gaussian(fit_gaussian: FitFn, x_grid: Tensor, log_p: Tensor, steps: int) -> Verdict:
    """Check the experiment fit_gaussian(direction, mu_init, steps): forward KL covers both modes, reverse KL seeks one."""
    x_grid, log_p = _as64(x_grid), _as64(log_p)
    dx = float(x_grid[1] - x_grid[0])
    p_mean = float((log_p.exp() * x_grid).sum() * dx)
    p_std = math.sqrt(float((log_p.exp() * (x_grid - p_mean) ** 2).sum() * dx))
    modes = sorted(_modes(x_grid, log_p))
    if len(modes) != 2:
        raise ValueError(f"check_fit_gaussian expects the lecture's target with two modes, found {len(modes)}")
    targets = {"cover": (p_mean, p_std), "left": modes[0], "right": modes[1]}
    narrowest = min(width for _, width in modes)
    fits: list[_Fit] = []

    def kind(mu: float, sigma: float, mu_init: float) -> str:
        """What an outcome looks like: at one of the targets, at its start, or else how it went wrong."""
        for name, (mu_ref, sigma_ref) in [*targets.items(), ("start", (mu_init, _SIGMA0))]:
            if abs(mu - mu_ref) <= _TOL and abs(sigma - sigma_ref) <= _TOL:
                return name
        if abs(mu) > float(x_grid.abs().max()) or sigma > float(x_grid[-1] - x_grid[0]):
            return "diverged"
        if sigma < narrowest / 3:
            return "collapsed"
        return "middle" if abs(mu - p_mean) <= _TOL else "other"

    def body() -> None:
        for direction, mu_init in _STARTS:
            mu, sigma, kl = _run_fit(fit_gaussian, direction, mu_init, steps)
            fits.append(_Fit(direction, mu_init, mu, sigma, kl, kind(mu, sigma, mu_init)))
        forward, reverse = fits[0], fits[1:]
        goals = [targets["cover"], *modes]  # the (mu, sigma) the three fits should reach
        if all(abs(f.mu - mu_ref) <= _TOL for f, (mu_ref, _) in zip(fits, goals, strict=True)):
            for name, transform in (("log sigma", math.log), ("the variance sigma^2", lambda v: v**2)):
                if all(abs(f.sigma - transform(s)) <= _TOL for f, (_, s) in zip(fits, goals, strict=True)):
                    raise StudentError(
                        f"the fits end in the right places, but the second value you return is {name}, not sigma: "
                        f"{forward.where()}, where the target's standard deviation is {p_std:.2f}. Return the standard "
                        "deviation itself."
                    )
        for f in fits:
            if f.sigma <= 0:
                raise StudentError(
                    f"{f.where()}: a standard deviation must stay positive, and optimising sigma itself lets a step "
                    "push it below 0; optimise a quantity that maps to a positive sigma whatever its value."
                )
        on_mode = ("left", "right")
        if forward.kind in on_mode and all(f.kind == "cover" for f in reverse):
            raise StudentError(
                f"the two directions are swapped: {forward.where()}, on one mode, and the reverse fits cover both modes. "
                "Forward KL(p || q) averages over the target p, reverse KL(q || p) over the model q: check which "
                "log-density comes first in kl_on_grid for each direction."
            )
        if forward.kind == "cover" and all(f.kind == "cover" for f in reverse):
            raise StudentError(
                "the reverse fits cover both modes just like the forward fit: your function minimises KL(p || q) for "
                "both directions; reverse KL(q || p) averages over the model q."
            )
        if forward.kind in on_mode and all(f.kind in on_mode for f in reverse):
            raise StudentError(
                f"{forward.where()}, on one mode like the reverse fits: your function minimises KL(q || p) for both "
                "directions; forward KL(p || q) averages over the target p."
            )
        for f in fits:
            if f.kind == "start":
                raise StudentError(
                    f"not converged: {f.where()}, still next to its start (mu = {f.mu_init:g}, sigma = {_SIGMA0:g}) "
                    f"after {steps} steps. Does every step update the parameters (gradients zeroed, loss "
                    "backpropagated, optimiser stepped)? If it does, the learning rate is far too small."
                )
            if f.kind == "diverged":
                raise StudentError(
                    f"the fit diverged: {f.where()}, far off the grid: the learning rate is too large for the steep walls of the KL."
                )
            if f.kind == "collapsed":
                raise StudentError(
                    f"sigma collapsed: {f.where()}, much narrower than either mode: the steps overshoot (learning "
                    "rate too large), or the loss is not the KL asked for."
                )
        p_text = f"the target's mean {_num(p_mean, 2)} and standard deviation {p_std:.2f}"
        if forward.kind in on_mode:
            raise StudentError(
                f"{forward.where()}, on one mode, which is what reverse KL does: forward KL(p || q) averages over the "
                f"target p and is mass-covering, with its minimum at {p_text}."
            )
        if forward.kind != "cover":
            raise StudentError(
                f"not converged: {forward.where()}, short of the minimum of forward KL at {p_text} after {steps} "
                "steps: use a larger learning rate, or an optimiser such as Adam."
            )
        for f, side in zip(reverse, on_mode, strict=True):
            mode, width = targets[side]
            if f.kind == side:
                continue
            if f.kind == "cover":
                raise StudentError(
                    f"{f.where()}, covering both modes like the forward fit: reverse KL(q || p) averages over the "
                    "model q, and is mode-seeking."
                )
            if f.kind in on_mode:
                raise StudentError(
                    f"{f.where()}, on the {f.kind} mode, not on the {side} one next to its start: does every fit "
                    f"start from mu = mu_init (and sigma = {_SIGMA0:g})? Reverse KL picks the mode on its start's side."
                )
            if f.kind == "middle":
                raise StudentError(
                    f"{f.where()}, between the modes: a wide Gaussian over the gap is a local minimum of reverse KL, "
                    "where a fit that starts with too large a sigma (or at the centre) gets stuck. Start every fit "
                    f"from sigma = {_SIGMA0:g} and mu = mu_init."
                )
            raise StudentError(
                f"not converged: {f.where()}, short of the {side} mode at {mode:.2f} (width {width:.2f}), where "
                f"reverse KL has its minimum on that side, after {steps} steps: use a larger learning rate, or an "
                "optimiser such as Adam."
            )
        for f in fits:
            mu_t, sigma_t = torch.tensor(f.mu, dtype=torch.float64), torch.tensor(f.sigma, dtype=torch.float64)
            log_q = torch.distributions.Normal(mu_t, sigma_t).log_prob(x_grid)  # [n_grid]
            kl_fwd, kl_rev = _grid_kl(log_p, log_q, dx), _grid_kl(log_q, log_p, dx)
            kl_ref, kl_other = (kl_fwd, kl_rev) if f.direction == "forward" else (kl_rev, kl_fwd)
            if abs(f.kl - kl_ref) <= _KL_TOL:
                continue
            what = f'the KL returned by fit_gaussian("{f.direction}", {f.mu_init:g}, {steps}) is {f.kl:.4f}'
            if abs(f.kl - kl_other) <= _KL_TOL:
                raise StudentError(f"{what}, the KL in the other direction: return the loss that the fit minimised.")
            if abs(f.kl - kl_ref / LN2) <= _KL_TOL:
                raise StudentError(f"{what}, in bits: return it in nats, as kl_on_grid computes it.")
            raise StudentError(
                f"{what}, but the {f.direction} KL of the returned mu and sigma is {kl_ref:.4f} nats: return the final loss."
            )

    def success() -> str:
        forward, left, right = fits
        return (
            f"forward KL covers both modes (mu = {_num(forward.mu, 2)}, sigma = {forward.sigma:.2f}; target mean "
            f"{_num(p_mean, 2)}, std {p_std:.2f}); reverse KL picks the mode next to its start (mu = {left.mu:.2f} and "
            f"{right.mu:.2f}, sigma = {left.sigma:.2f} and {right.sigma:.2f}; modes at {modes[0][0]:.2f} and "
            f"{modes[1][0]:.2f}, width {narrowest:.2f})."
        )

    return run_check("fit_gaussian", body, success)


# ---------------------------------------------------------------------------------------------------------------
# Exercise: closed-form KL between univariate Gaussians
# ---------------------------------------------------------------------------------------------------------------


def _gaussian_inputs() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Six pairs of Gaussians (mu1, sigma1, mu2, sigma2) that tell the usual mistakes apart."""
    f64 = torch.float64
    mu1 = torch.tensor([0.0, 1.0, -1.0, 0.5, 2.0, 0.0], dtype=f64)
    sigma1 = torch.tensor([1.0, 0.5, 2.0, 1.5, 0.3, 1.0], dtype=f64)
    mu2 = torch.tensor([0.0, 0.0, 1.0, -0.5, 1.0, 0.0], dtype=f64)
    sigma2 = torch.tensor([1.0, 1.0, 0.5, 2.0, 1.2, 3.0], dtype=f64)
    return mu1, sigma1, mu2, sigma2


def _elementwise_hint(shape: tuple[int, ...]) -> str | None:
    """Explain a reduced output of an elementwise KL."""
    if shape == ():
        return (
            "return one KL per element (no sum or mean over them); sum over dimensions yourself when you need "
            "the KL of a diagonal multivariate Gaussian."
        )
    return None


def check_gaussian_kl(gaussian_kl: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> Verdict:
    """Check gaussian_kl(mu1, sigma1, mu2, sigma2): KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)) in nats, elementwise."""

    def body() -> None:
        mu1, s1, mu2, s2 = _gaussian_inputs()
        kl = _value(
            gaussian_kl, [mu1, s1, mu2, s2], "gaussian_kl(mu1, sigma1, mu2, sigma2) for inputs of shape [6]", [6], _elementwise_hint
        )
        ref = _ref_gaussian_kl(mu1, s1, mu2, s2)
        d2 = (mu1 - mu2) ** 2
        _diagnose(
            kl,
            ref,
            "gaussian_kl(mu1, sigma1, mu2, sigma2)",
            [
                (
                    _ref_gaussian_kl(mu2, s2, mu1, s1),
                    "you computed KL(N(mu2, sigma2^2) || N(mu1, sigma1^2)): the two Gaussians are swapped.",
                ),
                (
                    _ref_gaussian_kl(mu1, s1.sqrt(), mu2, s2.sqrt()),
                    "your formula treats sigma as a variance: sigma1, "
                    "sigma2 are standard deviations, so square them where "
                    "the formula needs variances.",
                ),
                (
                    torch.log(s2 / s1) + (s1 + d2) / (2 * s2) - 0.5,
                    "the fraction uses sigma where it needs the variance sigma^2, in its numerator and its denominator.",
                ),
                (
                    _ref_gaussian_kl(mu1, s1**2, mu2, s2**2),
                    "your formula squares the variances (sigma^4): the arguments are standard deviations, square them once.",
                ),
                (
                    torch.log(s2**2 / s1**2) + (s1**2 + d2) / (2 * s2**2) - 0.5,
                    "the log term is twice too large: it is the log of the ratio of the standard deviations, not of the variances.",
                ),
                (ref + 0.5, "the constant -1/2 is missing (the KL of a Gaussian to itself must be 0)."),
                (ref - d2 / (2 * s2**2), "the mean term, the squared difference of the means over twice the second variance, is missing."),
                (ref / LN2, "your KL is in bits: for Gaussians (and in VAEs) use the natural log, nats."),
                (-ref, "the sign is flipped: KL is never negative."),
                (
                    _ref_gaussian_kl(mu1, s1, torch.zeros_like(mu2), torch.ones_like(s2)),
                    "you computed the KL to N(0, 1), the VAE special case: use mu2 and sigma2.",
                ),
            ],
        )

        zero, one = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
        kb = _value(gaussian_kl, [mu1, s1, zero, one], "gaussian_kl(mu1, sigma1, 0-dim mu2, 0-dim sigma2)", [6])
        _diagnose(kb, _ref_gaussian_kl(mu1, s1, zero, one), "gaussian_kl(mu1, sigma1, 0., 1.) (broadcasting)", [])

    return run_check("gaussian_kl", body, "correct: the closed-form Gaussian KL in nats, elementwise.")
