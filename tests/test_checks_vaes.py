"""The lecture 5 checks accept right answers and reject known-wrong ones with a specific message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fails, stub

from utils.checks import vaes

# ------------------------------------------------------------------------------- gaussian_kl_to_standard


def kl_ok(mu, logvar):
    """Right: the closed form, summed over latent dimensions."""
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=1)


def kl_ok_torch(mu, logvar):
    """Right, via torch.distributions."""
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).sum(dim=1)


@pytest.mark.parametrize("fn", [kl_ok, kl_ok_torch])
def test_kl_correct_passes(fn, capsys):
    v = vaes.check_gaussian_kl_to_standard(fn)
    assert v.passed, v.line()
    assert "[PASS] gaussian_kl_to_standard" in capsys.readouterr().out


def test_kl_stub_fails():
    assert_fails(vaes.check_gaussian_kl_to_standard(stub), "not done yet")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda mu, lv: (mu**2 + lv.exp() - lv - 1).sum(1), "factor 1/2"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).mean(1), "averaged over the latent dimensions"),
        (lambda mu, lv: 0.5 * (mu**2 + lv - torch.log(lv) - 1).sum(1), "log of logvar"),
        (lambda mu, lv: 0.5 * (mu**2 + lv - lv - 1).sum(1), "used logvar where the variance belongs"),
        (lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 2 * lv - 1).sum(1), "log sigma (the log standard deviation)"),
        (lambda mu, lv: -kl_ok(mu, lv), "wrong sign"),
        (lambda mu, lv: 0.5 * (1 + lv - mu**2 - lv.exp()).sum(1), "wrong sign"),
        (lambda mu, lv: 0.5 * (lv.exp() - lv - 1).sum(1), "mean term mu^2"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1).sum(1), "-logvar term is missing"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() + lv - 1).sum(1), "sign of the logvar term"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(1), "constant -1"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv + 1).sum(1), "not +1"),
        (lambda mu, lv: kl_ok(mu, lv).sum(), "sum over the batch"),
        (lambda mu, lv: kl_ok(mu, lv).mean(), "mean over the batch"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1), "sum over the last dimension"),
        (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(0), "reduced over the batch"),
        (lambda mu, lv: kl_ok(mu, lv) + 0.1, "differs from the expected"),
        (lambda mu, lv: kl_ok(mu, lv).numpy(), "should be a torch.Tensor"),
        (lambda mu, lv: 1 / 0, "your code raised ZeroDivisionError"),
    ],
)
def test_kl_wrong_answers_fail(wrong, fragment):
    assert_fails(vaes.check_gaussian_kl_to_standard(wrong), fragment)


# ------------------------------------------------------------------------------------------ bernoulli_nll


def nll_ok(logits, x):
    """Right: stable binary cross-entropy from logits, summed over pixels."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)


def nll_ok_logsigmoid(logits, x):
    """Right, written out with logsigmoid."""
    return -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=1)


def nll_naive(logits, x):
    """Right formula, but log(sigmoid) underflows for confident logits."""
    p = torch.sigmoid(logits)
    return -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1)


@pytest.mark.parametrize("fn", [nll_ok, nll_ok_logsigmoid])
def test_nll_correct_passes(fn, capsys):
    v = vaes.check_bernoulli_nll(fn)
    assert v.passed, v.line()
    assert "[PASS] bernoulli_nll" in capsys.readouterr().out


def test_nll_stub_fails():
    assert_fails(vaes.check_bernoulli_nll(stub), "not done yet")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda lg, x: F.binary_cross_entropy_with_logits(lg, x, reduction="none").mean(1), "averaged over the pixels"),
        (lambda lg, x: F.binary_cross_entropy_with_logits(lg, x), "one number"),
        (lambda lg, x: F.binary_cross_entropy_with_logits(lg, x, reduction="sum"), "sum over the whole batch"),
        (lambda lg, x: nll_ok(lg, x).mean(), "mean over the batch"),
        (lambda lg, x: F.binary_cross_entropy_with_logits(lg, x, reduction="none"), "sum over the last dimension"),
        (lambda lg, x: -nll_ok(lg, x), "wrong sign"),
        (lambda lg, x: F.binary_cross_entropy(torch.sigmoid(torch.sigmoid(lg)), x, reduction="none").sum(1), "sigmoid twice"),
        (lambda lg, x: -(x * F.logsigmoid(lg)).sum(1), "(1 - x) * log(1 - p) term is missing"),
        (lambda lg, x: -((1 - x) * F.logsigmoid(-lg)).sum(1), "x * log p term is missing"),
        (lambda lg, x: ((torch.sigmoid(lg) - x) ** 2).sum(1), "squared error"),
        (lambda lg, x: F.binary_cross_entropy(lg, x, reduction="none").sum(1), "your code raised"),
        (nll_naive, "large logits"),
        (lambda lg, x: nll_ok(lg, x) * 1.01, "differs from the expected"),
    ],
)
def test_nll_wrong_answers_fail(wrong, fragment):
    assert_fails(vaes.check_bernoulli_nll(wrong), fragment)


# ---------------------------------------------------------------------------------------- vector_quantize


def vq_ok(z_e, codebook):
    """Right: nearest codebook vector, straight-through gradient to z_e only."""
    idx = torch.cdist(z_e, codebook).argmin(dim=1)
    z_q = codebook[idx]
    return z_e + (z_q - z_e).detach(), idx


def vq_ok_expanded(z_e, codebook):
    """Right, with squared distances expanded by hand."""
    d2 = (z_e**2).sum(1, keepdim=True) - 2 * z_e @ codebook.T + (codebook**2).sum(1)
    idx = d2.argmin(dim=1)
    return z_e + (codebook[idx] - z_e).detach(), idx


@pytest.mark.parametrize("fn", [vq_ok, vq_ok_expanded])
def test_vq_correct_passes(fn, capsys):
    v = vaes.check_vector_quantize(fn)
    assert v.passed, v.line()
    assert "[PASS] vector_quantize" in capsys.readouterr().out


def test_vq_stub_fails():
    assert_fails(vaes.check_vector_quantize(stub), "not done yet")


def _farthest(z_e, codebook):
    idx = torch.cdist(z_e, codebook).argmax(dim=1)
    return z_e + (codebook[idx] - z_e).detach(), idx


def _dot(z_e, codebook):
    idx = (z_e @ codebook.T).argmax(dim=1)
    return z_e + (codebook[idx] - z_e).detach(), idx


def _in_place(z_e, codebook):
    z_q, idx = vq_ok(z_e, codebook)
    codebook.data[0] += 1.0
    return z_q, idx


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda z_e, cb: vq_ok(z_e, cb)[0], "return a pair"),
        (lambda z_e, cb: (vq_ok(z_e, cb)[0], vq_ok(z_e, cb)[1].float()), "should be integers"),
        (lambda z_e, cb: (vq_ok(z_e, cb)[0][:5], vq_ok(z_e, cb)[1]), "z_q has shape"),
        (_farthest, "farthest"),
        (_dot, "dot product"),
        (lambda z_e, cb: (z_e, vq_ok(z_e, cb)[1]), "z_q equals z_e"),
        (lambda z_e, cb: (cb[vq_ok(z_e, cb)[1]] + (z_e - z_e.detach()), vq_ok(z_e, cb)[1]), "codebook also receives"),
        (lambda z_e, cb: (z_e + (cb[vq_ok(z_e, cb)[1]] - z_e), vq_ok(z_e, cb)[1]), "no gradient reaches z_e"),
        (lambda z_e, cb: (cb[vq_ok(z_e, cb)[1]], vq_ok(z_e, cb)[1]), "no gradient reaches z_e"),
        (lambda z_e, cb: (cb[vq_ok(z_e, cb)[1]].detach(), vq_ok(z_e, cb)[1]), "carries no gradient"),
        (lambda z_e, cb: (z_e.detach() + (cb[vq_ok(z_e, cb)[1]] - z_e.detach()).detach(), vq_ok(z_e, cb)[1]), "carries no gradient"),
        (lambda z_e, cb: (2 * z_e + (cb[vq_ok(z_e, cb)[1]] - 2 * z_e).detach(), vq_ok(z_e, cb)[1]), "copied through"),
        (lambda z_e, cb: ((z_e - cb[vq_ok(z_e, cb)[1]]).detach() + cb[vq_ok(z_e, cb)[1]], vq_ok(z_e, cb)[1]), "z_q equals z_e"),
        (_in_place, "in place"),
        (lambda z_e, cb: (vq_ok(z_e, cb)[0] + 0.5, vq_ok(z_e, cb)[1]), "not codebook[indices]"),
    ],
)
def test_vq_wrong_answers_fail(wrong, fragment):
    assert_fails(vaes.check_vector_quantize(wrong), fragment)


def test_checks_leave_the_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    vaes.check_gaussian_kl_to_standard(kl_ok)
    vaes.check_bernoulli_nll(nll_ok)
    vaes.check_vector_quantize(vq_ok)
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------------------- shutdown_beta

X_DIGITS = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(8))


class InUse(torch.nn.Module):
    """An encoder whose means follow the image: every one of its four latent dimensions is active."""

    def __init__(self, scale=3.0):
        super().__init__()
        self.proj = torch.nn.Linear(784, 4)
        with torch.no_grad():
            self.proj.weight.copy_(scale * torch.randn(4, 784, generator=torch.Generator().manual_seed(9)) / 28)

    def encode(self, x):
        mu = self.proj(x.flatten(1))
        return mu - mu.mean(0), torch.full_like(mu, -1.0)


class ShutDown(torch.nn.Module):
    """An encoder that ignores the image: q(z | x) = N(0, I) for every x, so no active unit and a KL of 0."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(4))

    def encode(self, x):
        mu = self.bias.expand(len(x), 4)
        return mu, torch.zeros_like(mu)


class AlmostShutDown(ShutDown):
    """No active unit, but every posterior far narrower than the prior: a KL of several nats."""

    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu, logvar - 3.0


def returns(*values):
    """A finished experiment that returns these values."""
    return lambda: values


def test_shutdown_beta_accepts_a_tight_bracket(capsys):
    v = vaes.check_shutdown_beta(returns(16.0, InUse(), 32, ShutDown()), X_DIGITS)
    assert v.passed, v.line()
    assert "at beta = 16 the code is in use (4 active units" in v.message and "at beta = 32 it is shut down" in v.message
    assert "[PASS] shutdown_beta" in capsys.readouterr().out


def test_shutdown_beta_accepts_betas_as_tensors():
    assert vaes.check_shutdown_beta(returns(torch.tensor(20.0), InUse(), torch.tensor(30.0), ShutDown()), X_DIGITS).passed


def test_shutdown_beta_stub_fails():
    assert_fails(vaes.check_shutdown_beta(stub, X_DIGITS), "not done yet")


_SAME = ShutDown()


@pytest.mark.parametrize(
    ("outcome", "fragments"),
    [
        (returns(4.0, InUse(), 8.0, InUse(scale=1.0)), ("beta_off = 8 is still in use", "4 active units", "larger values")),
        (returns(16.0, InUse(), 32.0, AlmostShutDown()), ("still in use", "0 active units", "KL 4.")),
        (returns(64.0, ShutDown(), 128.0, ShutDown()), ("beta_on = 64 has shut its code down as well", "smaller values")),
        (returns(1.0, InUse(), 1000.0, ShutDown()), ("factor of 1e+03", "factor of 2 at most")),
        (returns(32.0, ShutDown(), 16.0, InUse()), ("swapped", "in use at beta = 16")),
        (returns(32.0, InUse(), 16.0, ShutDown()), ("beta_off = 16 is not larger than beta_on = 32",)),
        (returns(16.0, _SAME, 32.0, _SAME), ("the same model",)),
        (returns(16.0, InUse(), 32.0), ("return four values", "got 3 values")),
        (lambda: InUse(), ("return four values", "got a InUse")),
        (
            returns(-1.0, InUse(), 2.0, ShutDown()),
            ("beta_on is -1.0", "positive"),
        ),
        (returns("16", InUse(), 32.0, ShutDown()), ("beta_on should be a number", "got str")),
        (returns(16.0, InUse(), 32.0, "a model"), ("model_off has no encode method",)),
        (returns(16.0, InUse(), 32.0, torch.nn.Linear(2, 2)), ("model_off has no encode method",)),
    ],
)
def test_shutdown_beta_rejects_wrong_outcomes(outcome, fragments):
    assert_fails(vaes.check_shutdown_beta(outcome, X_DIGITS), *fragments)


class Diverged(ShutDown):
    """A run whose encoder gives NaN."""

    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu * float("nan"), logvar


class OnlyMu(ShutDown):
    """encode returns the mean alone."""

    def encode(self, x):
        return super().encode(x)[0]


@pytest.mark.parametrize(
    ("model", "fragment"),
    [(Diverged(), "NaN or inf"), (OnlyMu(), "should return the pair (mu, logvar)")],
)
def test_shutdown_beta_names_a_broken_model(model, fragment):
    assert_fails(vaes.check_shutdown_beta(returns(16.0, InUse(), 32.0, model), X_DIGITS), "model_off", fragment)
