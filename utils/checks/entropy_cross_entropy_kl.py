"""Checks for lecture 2 (entropy, cross-entropy, KL): entropy in bits, categorical KL, Gaussian KL."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import torch

from utils.checks.core import StudentError, Verdict, call, is_close, require_tensor, run_check
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
            return "you returned one term per outcome; sum the terms over the last dimension (dim=-1)."
        if batch is not None and shape == ():
            return "you summed over all dimensions; sum over the last one only (dim=-1), one value per row."
        if batch is not None and shape == (batch, k):
            return "you returned one term per outcome; sum the terms over the last dimension (dim=-1)."
        if batch is not None and shape == (k,):
            return "you summed over the wrong dimension; sum over the last one (dim=-1), not the first."

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
                (h_ref * LN2, "your entropy is in nats (natural log): use torch.log2, or divide by log(2), for bits."),
                (h_ref * LN2 / math.log(10), "you used log10: entropy in bits needs torch.log2."),
                (-h_ref, "the sign is flipped: an entropy, the expected surprise -log2 p, is never negative."),
                (-torch.log2(p).sum(), "each surprise -log2 p_i must be weighted by its probability p_i before summing."),
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
                (ref * LN2, "your KL is in nats (natural log): use torch.log2, or divide by log(2), for bits."),
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
                "kl_divergence(p, q) is nan when p has zeros: outcomes with p_i = 0 contribute 0 "
                "(0 * log 0 = 0), but the product computes 0 * -inf = nan; mask those terms so they are exactly 0."
            )
        _diagnose(kz, _ref_kl(p0, q0), "kl_divergence(p, q) with p = [0.5, 0.5, 0, 0]", [])

        p00 = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
        q00 = torch.tensor([0.25, 0.75, 0.0], dtype=torch.float64)
        k00 = _value(kl_divergence, [p00, q00], "kl_divergence(p, q) with p_i = q_i = 0 for one i", [])
        if torch.isnan(k00).any():
            raise StudentError(
                "kl_divergence(p, q) is nan when p_i = q_i = 0: such outcomes never happen under p "
                "and contribute 0; make sure the p = 0 mask also covers log(q) = -inf there."
            )
        _diagnose(k00, _ref_kl(p00, q00), "kl_divergence(p, q) with p_i = q_i = 0 for one i", [])

        pi = torch.tensor([0.5, 0.5], dtype=torch.float64)
        qi = torch.tensor([1.0, 0.0], dtype=torch.float64)
        kinf = _value(kl_divergence, [pi, qi], "kl_divergence([0.5, 0.5], [1, 0])", [])
        if torch.isnan(kinf).any():
            raise StudentError(
                "kl_divergence([0.5, 0.5], [1, 0]) is nan, expected inf: where q_i = 0 < p_i the "
                "code length -log2 q_i is infinite, so the KL is +inf."
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
            "return one KL per element (no .sum() or .mean()); sum over dimensions yourself when you need "
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
