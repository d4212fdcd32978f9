"""The Lecture 4 checks accept correct answers and reject stubs and known mistakes with specific messages."""

import math

import pytest
import torch
import torch.nn.functional as F

from utils.checks import gans


def stub(*args, **kwargs):
    """What an exercise holds before it is done."""
    raise NotImplementedError("Exercise: write your code here")


def fails_with(verdict, *fragments):
    """The verdict failed and its message mentions every fragment."""
    assert not verdict.passed, verdict.line()
    for fragment in fragments:
        assert fragment in verdict.message, verdict.line()
    return True


# --- discriminator_loss ------------------------------------------------------------------------------------------


def d_loss(real, fake):
    return -(F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean())


def d_loss_bce(real, fake):
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )


@pytest.mark.parametrize("fn", [d_loss, d_loss_bce])
def test_discriminator_loss_accepts_correct_answers(fn):
    assert gans.check_discriminator_loss(fn).passed


@pytest.mark.parametrize(
    "fn, fragments",
    [
        (stub, ["not done yet"]),
        (lambda r, f: d_loss(f, r), ["labels are swapped"]),
        (lambda r, f: -F.logsigmoid(r).mean(), ["fake term is missing"]),
        (lambda r, f: -F.logsigmoid(-f).mean(), ["real term is missing"]),
        (lambda r, f: -d_loss(r, f), ["sign is flipped"]),
        (lambda r, f: d_loss(torch.sigmoid(r), torch.sigmoid(f)), ["sigmoid is applied twice"]),
        (lambda r, f: -(F.logsigmoid(r).sum() + F.logsigmoid(-f).sum()), ["mean over the batch"]),
        (lambda r, f: d_loss(r, f) / 2, ["half the expected value"]),
        (lambda r, f: -(torch.log(r).mean() + torch.log(1 - f).mean()), ["logits", "not probabilities"]),
        (lambda r, f: F.binary_cross_entropy(r, torch.ones_like(r)), ["crashed on negative logits"]),
        (lambda r, f: -(F.logsigmoid(r) + F.logsigmoid(-f)), ["single number", ".mean()"]),
        (lambda r, f: d_loss(r, f).item(), ["should be a torch.Tensor"]),
        (lambda r, f: d_loss(r, f).detach(), ["no gradient flows back"]),
        (lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()), ["large ones", "log-sigmoid"]),
        (
            lambda r, f: (
                F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r)) + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))
            ),
            ["large ones"],
        ),
        (lambda r, f: d_loss(r, f) + 0.1, ["expected"]),
    ],
)
def test_discriminator_loss_rejects_known_mistakes(fn, fragments):
    assert fails_with(gans.check_discriminator_loss(fn), *fragments)


# --- js_divergence ----------------------------------------------------------------------------------------------


def js(p, q, dx):
    m = (p + q) / 2
    kl_pm = torch.where(p > 0, p * torch.log(p / m), torch.zeros_like(p)).sum() * dx
    kl_qm = torch.where(q > 0, q * torch.log(q / m), torch.zeros_like(q)).sum() * dx
    return 0.5 * kl_pm + 0.5 * kl_qm


def js_naive(p, q, dx):
    m = (p + q) / 2
    return 0.5 * (p * torch.log(p / m)).sum() * dx + 0.5 * (q * torch.log(q / m)).sum() * dx


def test_js_divergence_accepts_a_correct_answer():
    assert gans.check_js_divergence(js).passed


@pytest.mark.parametrize(
    "fn, fragments",
    [
        (stub, ["not done yet"]),
        (lambda p, q, dx: js(p, q, dx) / math.log(2), ["bits"]),
        (lambda p, q, dx: (p * torch.log(p / q)).sum() * dx, ["KL(p || q), not JS"]),
        (lambda p, q, dx: (p * torch.log(p / ((p + q) / 2))).sum() * dx, ["KL(p || m) only"]),
        (lambda p, q, dx: 2 * js(p, q, dx), ["factors 1/2"]),
        (lambda p, q, dx: js(p, q, dx) / dx, ["grid spacing dx"]),
        (lambda p, q, dx: js(p, q, dx) - math.log(2), ["average of p and q, not their sum"]),
        (js_naive, ["0 * log 0"]),
        (lambda p, q, dx: js(p, q, dx).unsqueeze(0), ["one number"]),
        (lambda p, q, dx: js(p, q, dx) + 0.01, ["expected"]),
    ],
)
def test_js_divergence_rejects_known_mistakes(fn, fragments):
    assert fails_with(gans.check_js_divergence(fn), *fragments)


# --- gradient_penalty -------------------------------------------------------------------------------------------


def make_gp(eps_shape="sample", where="interpolate", create_graph=True, norm="flat", square=True, lam=1.0):
    """A gradient penalty; the options introduce known mistakes."""

    def gp(critic, real, fake):
        b = real.shape[0]
        if eps_shape == "sample":
            eps = torch.rand(b, *([1] * (real.dim() - 1)))
        elif eps_shape == "batch":
            eps = torch.rand(1)
        else:  # one per pixel
            eps = torch.rand_like(real)
        x_hat = {"interpolate": eps * real + (1 - eps) * fake, "real": real}[where].requires_grad_(True)
        scores = critic(x_hat)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=create_graph)
        if norm == "flat":
            n = grad.flatten(1).norm(2, dim=1)
        elif norm == "dim1":
            n = grad.norm(2, dim=1)
        else:  # squared norm
            n = grad.flatten(1).pow(2).sum(dim=1)
        return lam * ((n - 1) ** 2 if square else (n - 1)).mean()

    return gp


def test_gradient_penalty_accepts_a_correct_answer():
    assert gans.check_gradient_penalty(make_gp()).passed


def test_gradient_penalty_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    gans.check_gradient_penalty(make_gp())
    assert torch.equal(torch.rand(3), expected)


def no_requires_grad(critic, real, fake):
    eps = torch.rand(real.shape[0], 1, 1, 1)
    x_hat = eps * real + (1 - eps) * fake
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize(
    "fn, fragments",
    [
        (stub, ["not done yet"]),
        (make_gp(create_graph=False), ["create_graph option"]),
        (make_gp(norm="dim1"), ["one gradient norm per sample", "non-batch dimensions together"]),
        (make_gp(square=False), ["square is missing"]),
        (make_gp(norm="squared"), ["squared gradient norm"]),
        (make_gp(lam=10.0), ["lambda"]),
        (make_gp(where="real"), ["random interpolates"]),
        (make_gp(eps_shape="batch"), ["one eps per sample"]),
        (make_gp(eps_shape="pixel"), ["per sample", "not per pixel"]),
        (no_requires_grad, ["does not require gradients", "requiring gradients before they go into the critic"]),
    ],
)
def test_gradient_penalty_rejects_known_mistakes(fn, fragments):
    assert fails_with(gans.check_gradient_penalty(fn), *fragments)
