"""The lecture 2 checks accept correct answers and reject known-wrong ones with a specific message."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_fails, stub

from utils.checks import entropy_cross_entropy_kl

LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------------------------
# entropy_bits
# ---------------------------------------------------------------------------------------------------------------


def entropy_ok(p: torch.Tensor) -> torch.Tensor:
    """Correct: -sum p log2 p over the last dimension, zeros masked."""
    return -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(-1)


def entropy_xlogy(p: torch.Tensor) -> torch.Tensor:
    """Also correct, in float32: xlogy handles 0 log 0."""
    p = p.float()
    return -torch.special.xlogy(p, p).sum(-1) / math.log(2)


ENTROPY_WRONG = {
    "nats": (lambda p: -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(-1), "nats"),
    "log10": (lambda p: -torch.where(p > 0, p * torch.log10(p), torch.zeros_like(p)).sum(-1), "log10"),
    "sign": (lambda p: torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(-1), "sign is flipped"),
    "unweighted": (lambda p: -torch.log2(p).sum(-1), "weighted by its probability"),
    "log2 K": (lambda p: torch.log2(torch.tensor(float(p.shape[-1]))), "uniform"),
    "mean": (lambda p: -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).mean(-1), "averaged"),
    "no zero handling": (lambda p: -(p * torch.log2(p)).sum(-1), "0 * log 0 = 0"),
    "sum all dims": (lambda p: -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(), "dim=-1"),
    "sum dim 0": (lambda p: -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(0), "wrong dimension"),
    "no sum": (lambda p: -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)), "one term per outcome"),
    "float": (lambda p: 1.875, "torch.Tensor"),
}


@pytest.mark.parametrize("fn", [entropy_ok, entropy_xlogy])
def test_entropy_correct_passes(fn) -> None:
    assert entropy_cross_entropy_kl.check_entropy_bits(fn).passed


def test_entropy_stub_fails() -> None:
    assert_fails(entropy_cross_entropy_kl.check_entropy_bits(stub), "not done yet")


@pytest.mark.parametrize("name", list(ENTROPY_WRONG))
def test_entropy_wrong_fails(name: str) -> None:
    fn, fragment = ENTROPY_WRONG[name]
    assert_fails(entropy_cross_entropy_kl.check_entropy_bits(fn), fragment)


def test_entropy_crash_is_reported() -> None:
    def crash(p: torch.Tensor) -> torch.Tensor:
        return p @ torch.ones(3)

    assert_fails(entropy_cross_entropy_kl.check_entropy_bits(crash), "your code raised RuntimeError")


# ---------------------------------------------------------------------------------------------------------------
# kl_divergence
# ---------------------------------------------------------------------------------------------------------------


def kl_ok(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Correct: sum p log2(p / q) over the last dimension, p = 0 masked, inf where q = 0 < p."""
    return torch.where(p > 0, p * (torch.log2(p) - torch.log2(q)), torch.zeros_like(p)).sum(-1)


def _h(p: torch.Tensor) -> torch.Tensor:
    return -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(-1)


def _ce(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return -torch.where(p > 0, p * torch.log2(q), torch.zeros_like(p)).sum(-1)


KL_WRONG = {
    "swapped": (lambda p, q: kl_ok(q, p), "swapped"),
    "nats": (lambda p, q: kl_ok(p, q) * LN2, "nats"),
    "swapped nats": (lambda p, q: kl_ok(q, p) * LN2, "p and q are swapped (weight the log ratio by p), and the log is natural"),
    "sign": (lambda p, q: -kl_ok(p, q), "sign is flipped"),
    "cross-entropy": (_ce, "cross-entropy"),
    "minus cross-entropy": (lambda p, q: -_ce(p, q), "log2 p term is missing"),
    "entropy difference": (lambda p, q: _h(p) - _h(q), "difference of entropies"),
    "entropy difference reversed": (lambda p, q: _h(q) - _h(p), "difference of entropies"),
    "no zero handling": (lambda p, q: (p * torch.log2(p / q)).sum(-1), "0 * log 0 = 0"),
    "xlogy with 0/0": (lambda p, q: torch.special.xlogy(p, p / q).sum(-1) / LN2, "p_i = q_i = 0"),
    "epsilon": (lambda p, q: kl_ok(p, q.clamp_min(1e-12)), "epsilon"),
    "nan_to_num": (lambda p, q: (p * torch.log2(p / q)).nan_to_num(0.0).sum(-1), "expected inf"),
    "sum all dims": (lambda p, q: kl_ok(p, q).sum(), "dim=-1"),
    "no sum": (lambda p, q: torch.where(p > 0, p * torch.log2(p / q), torch.zeros_like(p)), "one term per outcome"),
}


def test_kl_correct_passes() -> None:
    assert entropy_cross_entropy_kl.check_kl_divergence(kl_ok).passed


def test_kl_stub_fails() -> None:
    assert_fails(entropy_cross_entropy_kl.check_kl_divergence(stub), "not done yet")


@pytest.mark.parametrize("name", list(KL_WRONG))
def test_kl_wrong_fails(name: str) -> None:
    fn, fragment = KL_WRONG[name]
    assert_fails(entropy_cross_entropy_kl.check_kl_divergence(fn), fragment)


# ---------------------------------------------------------------------------------------------------------------
# gaussian_kl
# ---------------------------------------------------------------------------------------------------------------


def gkl_ok(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """Correct closed form in nats."""
    return torch.log(sigma2 / sigma1) + (sigma1**2 + (mu1 - mu2) ** 2) / (2 * sigma2**2) - 0.5


def gkl_logvar_form(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """Also correct: written with log-variances, as in VAE code."""
    lv1, lv2 = 2 * sigma1.log(), 2 * sigma2.log()
    return 0.5 * (lv2 - lv1 + (lv1.exp() + (mu1 - mu2) ** 2) / lv2.exp() - 1)


def gkl_torch(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """Also correct: torch.distributions (broadcast by hand)."""
    mu2, sigma2 = torch.broadcast_tensors(mu2, sigma2, mu1)[:2]
    d = torch.distributions
    return d.kl_divergence(d.Normal(mu1, sigma1), d.Normal(mu2.expand_as(mu1), sigma2.expand_as(mu1)))


GKL_WRONG = {
    "swapped": (lambda m1, s1, m2, s2: gkl_ok(m2, s2, m1, s1), "swapped"),
    "sigma as variance": (lambda m1, s1, m2, s2: gkl_ok(m1, s1.sqrt(), m2, s2.sqrt()), "treats sigma as a variance"),
    "std in fraction": (
        lambda m1, s1, m2, s2: torch.log(s2 / s1) + (s1 + (m1 - m2) ** 2) / (2 * s2) - 0.5,
        "needs the variance",
    ),
    "variance squared": (lambda m1, s1, m2, s2: gkl_ok(m1, s1**2, m2, s2**2), "squares the variances"),
    "log factor": (
        lambda m1, s1, m2, s2: torch.log(s2**2 / s1**2) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5,
        "twice too large",
    ),
    "missing -1/2": (lambda m1, s1, m2, s2: gkl_ok(m1, s1, m2, s2) + 0.5, "-1/2 is missing"),
    "missing mean term": (lambda m1, s1, m2, s2: gkl_ok(m1, s1, m2, s2) - (m1 - m2) ** 2 / (2 * s2**2), "mean term"),
    "bits": (lambda m1, s1, m2, s2: gkl_ok(m1, s1, m2, s2) / LN2, "bits"),
    "sign": (lambda m1, s1, m2, s2: -gkl_ok(m1, s1, m2, s2), "sign is flipped"),
    "standard normal": (lambda m1, s1, m2, s2: 0.5 * (m1**2 + s1**2 - torch.log(s1**2) - 1), "N(0, 1)"),
    "summed": (lambda m1, s1, m2, s2: gkl_ok(m1, s1, m2, s2).sum(), "one KL per element"),
    "math.log": (lambda m1, s1, m2, s2: math.log(s2 / s1) + 0 * m1, "your code raised"),
    "no broadcasting": (lambda m1, s1, m2, s2: gkl_ok(m1, s1, m2, s2) if m2.dim() else m1.sum(), "shape"),
}


@pytest.mark.parametrize("fn", [gkl_ok, gkl_logvar_form, gkl_torch])
def test_gaussian_kl_correct_passes(fn) -> None:
    assert entropy_cross_entropy_kl.check_gaussian_kl(fn).passed


def test_gaussian_kl_stub_fails() -> None:
    assert_fails(entropy_cross_entropy_kl.check_gaussian_kl(stub), "not done yet")


@pytest.mark.parametrize("name", list(GKL_WRONG))
def test_gaussian_kl_wrong_fails(name: str) -> None:
    fn, fragment = GKL_WRONG[name]
    assert_fails(entropy_cross_entropy_kl.check_gaussian_kl(fn), fragment)


def test_checks_do_not_touch_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    entropy_cross_entropy_kl.check_entropy_bits(entropy_ok)
    entropy_cross_entropy_kl.check_kl_divergence(kl_ok)
    entropy_cross_entropy_kl.check_gaussian_kl(gkl_ok)
    assert torch.equal(torch.rand(3), expected)
