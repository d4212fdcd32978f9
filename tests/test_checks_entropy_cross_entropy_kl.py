"""The lecture 2 checks accept correct answers and reject known-wrong ones with a specific message."""

from __future__ import annotations

import math
import re

import pytest
import torch
from helpers import assert_fails, stub

from utils.checks import entropy_cross_entropy_kl

LN2 = math.log(2.0)
CODE = re.compile(r"torch\.(?!Tensor)|np\.|\.mean\(|\.sum\(|dim=|correction=")


def assert_fails_in_words(verdict, fragment: str) -> None:
    """The check fails, names the mistake, and says it in words and math, never as the code that fixes it."""
    assert_fails(verdict, fragment)
    assert not CODE.search(verdict.message), verdict.message


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


# (wrong answer, fragment its message must hold): the usual mistakes first (natural log, no 0 log 0, wrong sum)
ENTROPY_WRONG = {
    "no zero handling": (lambda p: -(p * torch.log2(p)).sum(-1), "0 * log 0 = 0"),
    "sum all dims": (lambda p: -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(), "all dimensions"),
    "nats": (lambda p: -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(-1), "nats"),
    "log10": (lambda p: -torch.where(p > 0, p * torch.log10(p), torch.zeros_like(p)).sum(-1), "log10"),
    "sign": (lambda p: torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).sum(-1), "sign is flipped"),
    "unweighted": (lambda p: -torch.log2(p).sum(-1), "weighted by its probability"),
    "log2 K": (lambda p: torch.log2(torch.tensor(float(p.shape[-1]))), "uniform"),
    "mean": (lambda p: -torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p)).mean(-1), "averaged"),
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
    assert_fails_in_words(entropy_cross_entropy_kl.check_entropy_bits(fn), fragment)


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


# (wrong answer, fragment): the usual mistakes first (p and q swapped, the cross-entropy, an epsilon on q)
KL_WRONG = {
    "swapped": (lambda p, q: kl_ok(q, p), "swapped"),
    "cross-entropy": (_ce, "cross-entropy"),
    "epsilon": (lambda p, q: kl_ok(p, q.clamp_min(1e-12)), "epsilon"),
    "nats": (lambda p, q: kl_ok(p, q) * LN2, "nats"),
    "swapped nats": (lambda p, q: kl_ok(q, p) * LN2, "p and q are swapped (weight the log ratio by p), and the log is natural"),
    "sign": (lambda p, q: -kl_ok(p, q), "sign is flipped"),
    "minus cross-entropy": (lambda p, q: -_ce(p, q), "log2 p term is missing"),
    "entropy difference": (lambda p, q: _h(p) - _h(q), "difference of entropies"),
    "entropy difference reversed": (lambda p, q: _h(q) - _h(p), "difference of entropies"),
    "no zero handling": (lambda p, q: (p * torch.log2(p / q)).sum(-1), "0 * log 0 = 0"),
    "xlogy with 0/0": (lambda p, q: torch.special.xlogy(p, p / q).sum(-1) / LN2, "p_k = q_k = 0"),
    "nan_to_num": (lambda p, q: (p * torch.log2(p / q)).nan_to_num(0.0).sum(-1), "expected inf"),
    "sum all dims": (lambda p, q: kl_ok(p, q).sum(), "all dimensions"),
    "no sum": (lambda p, q: torch.where(p > 0, p * torch.log2(p / q), torch.zeros_like(p)), "one term per outcome"),
}


def test_kl_correct_passes() -> None:
    assert entropy_cross_entropy_kl.check_kl_divergence(kl_ok).passed


def test_kl_stub_fails() -> None:
    assert_fails(entropy_cross_entropy_kl.check_kl_divergence(stub), "not done yet")


@pytest.mark.parametrize("name", list(KL_WRONG))
def test_kl_wrong_fails(name: str) -> None:
    fn, fragment = KL_WRONG[name]
    assert_fails_in_words(entropy_cross_entropy_kl.check_kl_divergence(fn), fragment)


# ---------------------------------------------------------------------------------------------------------------
# fit_gaussian (experiment): forward and reverse KL fits to the lecture's two-mode target
# ---------------------------------------------------------------------------------------------------------------

F64 = torch.float64
X_GRID = torch.linspace(-8, 8, 1601, dtype=F64)  # [n_grid], the lecture's grid
DX = X_GRID[1] - X_GRID[0]
_COMPONENTS = torch.distributions.Normal(torch.tensor([-2.0, 2.0], dtype=F64), torch.tensor([0.6, 0.6], dtype=F64))
LOG_P = torch.logsumexp(math.log(0.5) + _COMPONENTS.log_prob(X_GRID[:, None]), dim=-1)  # [n_grid], the lecture's target
STEPS = 200  # the lecture's fast mode


def grid_kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """The lecture's kl_on_grid."""
    return (log_a.exp() * (log_a - log_b)).sum(dim=-1) * DX


def make_fit(
    lr: float = 0.05,
    optimiser: type[torch.optim.Optimizer] = torch.optim.Adam,
    param: str = "log",
    sigma0: float = 1.0,
    swap: bool = False,
    only: str | None = None,
    fixed_start: float | None = None,
    kl_out: str = "same",
    step: bool = True,
):
    """A fit_gaussian(direction, mu_init, steps) written like a student's, with the given choices or mistakes."""
    to_sigma = {"log": torch.exp, "direct": lambda s: s, "softplus": torch.nn.functional.softplus}[param]
    s0 = {"log": math.log(sigma0), "direct": sigma0, "softplus": math.log(math.expm1(sigma0))}[param]

    def fit(direction: str, mu_init: float, steps: int) -> tuple[float, float, float]:
        mu = torch.tensor(mu_init if fixed_start is None else fixed_start, dtype=F64, requires_grad=True)
        s = torch.tensor(s0, dtype=F64, requires_grad=True)
        opt = optimiser([mu, s], lr=lr)
        forward = (direction == "forward") != swap if only is None else only == "forward"
        for _ in range(steps):
            log_q = torch.distributions.Normal(mu, to_sigma(s)).log_prob(X_GRID)  # [n_grid]
            loss = grid_kl(LOG_P, log_q) if forward else grid_kl(log_q, LOG_P)
            opt.zero_grad()
            loss.backward()
            if step:
                opt.step()
        sigma = to_sigma(s)
        log_q = torch.distributions.Normal(mu, sigma).log_prob(X_GRID)
        kl = {"same": loss, "other": grid_kl(log_q, LOG_P) if forward else grid_kl(LOG_P, log_q), "bits": loss / LN2}[kl_out]
        return mu.item(), sigma.item(), kl.item()

    return fit


def fit_tensors(direction: str, mu_init: float, steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Also correct: returns 0-dim tensors (still attached to the graph) instead of floats."""
    mu, sigma, kl = make_fit()(direction, mu_init, steps)
    return torch.tensor(mu, requires_grad=True), torch.tensor(sigma, requires_grad=True), torch.tensor(kl)


FIT_RIGHT = {
    "Adam, log sigma": make_fit(),
    "Adam, sigma itself": make_fit(param="direct"),
    "Adam, softplus": make_fit(param="softplus", lr=0.1),
    "SGD, log sigma": make_fit(optimiser=torch.optim.SGD, lr=0.1),
    "RMSprop": make_fit(optimiser=torch.optim.RMSprop, lr=0.05),
    "start narrower": make_fit(sigma0=0.5),
    "tensors": fit_tensors,
}

# (wrong fit, fragment): the usual mistakes first (directions swapped, not converged, sigma negative)
FIT_WRONG = {
    "swapped": (make_fit(swap=True), "the two directions are swapped"),
    "always forward": (make_fit(only="forward"), "minimises KL(p || q) for both directions"),
    "always reverse": (make_fit(only="reverse"), "minimises KL(q || p) for both directions"),
    "no optimiser step": (make_fit(step=False), "not converged"),
    "learning rate far too small": (make_fit(lr=1e-5), "still next to its start"),
    "learning rate too small": (make_fit(lr=0.005), "not converged"),
    "SGD too slow": (make_fit(optimiser=torch.optim.SGD, lr=0.01), "not converged"),
    "started wide": (make_fit(sigma0=3.0), "between the modes"),
    "started at the centre": (make_fit(fixed_start=0.0), "between the modes"),
    "ignores mu_init": (make_fit(fixed_start=1.0), "mu = mu_init"),
    "sigma negative": (make_fit(param="direct", optimiser=torch.optim.SGD, lr=1.0), "zero or went negative"),
    "diverged": (make_fit(optimiser=torch.optim.SGD, lr=1.0), "diverged"),
    "KL of the other direction": (make_fit(kl_out="other"), "the other direction"),
    "KL in bits": (make_fit(kl_out="bits"), "in bits"),
    "returned sigma negative": (lambda d, m, n: (m, -1.0, 0.5), "must stay positive"),
    "returned log sigma": (lambda d, m, n: (lambda mu, s, kl: (mu, math.log(s), kl))(*make_fit()(d, m, n)), "is log sigma"),
    "returned the variance": (lambda d, m, n: (lambda mu, s, kl: (mu, s**2, kl))(*make_fit()(d, m, n)), "the variance"),
    "returned nan": (lambda d, m, n: (m, float("nan"), 0.5), "nan or inf"),
    "sigma collapsed": (lambda d, m, n: (2.0 if m > 0 else -2.0, 0.01, 0.5), "sigma collapsed"),
    "two values": (lambda d, m, n: make_fit()(d, m, n)[:2], "three numbers"),
    "a dict": (lambda d, m, n: dict(zip("abc", make_fit()(d, m, n), strict=True)), "three numbers"),
    "a vector": (lambda d, m, n: (torch.zeros(2), 1.0, 0.5), "returned a Tensor as mu"),
}


def check_fit(fn) -> entropy_cross_entropy_kl.Verdict:
    """Run the check on the lecture's grid and target with the fast-mode step count."""
    return entropy_cross_entropy_kl.check_fit_gaussian(fn, X_GRID, LOG_P, STEPS)


@pytest.mark.parametrize("name", list(FIT_RIGHT))
def test_fit_correct_passes(name: str) -> None:
    v = check_fit(FIT_RIGHT[name])
    assert v.passed, v.line()
    assert "forward KL covers both modes" in v.message


def test_fit_correct_passes_with_the_full_mode_steps() -> None:
    assert entropy_cross_entropy_kl.check_fit_gaussian(make_fit(), X_GRID, LOG_P, 500).passed


def test_fit_stub_fails() -> None:
    assert_fails(check_fit(stub), "not done yet")


@pytest.mark.parametrize("name", list(FIT_WRONG))
def test_fit_wrong_fails(name: str) -> None:
    fn, fragment = FIT_WRONG[name]
    assert_fails_in_words(check_fit(fn), fragment)


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


# (wrong answer, fragment): the usual mistakes first (Gaussians swapped, sigma taken for a variance, log factor)
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
    assert_fails_in_words(entropy_cross_entropy_kl.check_gaussian_kl(fn), fragment)


def test_checks_do_not_touch_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    entropy_cross_entropy_kl.check_entropy_bits(entropy_ok)
    entropy_cross_entropy_kl.check_kl_divergence(kl_ok)
    entropy_cross_entropy_kl.check_gaussian_kl(gkl_ok)
    entropy_cross_entropy_kl.check_fit_gaussian(make_fit(), X_GRID, LOG_P, 20)
    assert torch.equal(torch.rand(3), expected)
