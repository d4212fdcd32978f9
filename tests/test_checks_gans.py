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


# --- collapse_and_cover -----------------------------------------------------------------------------------------

CENTRES = 2.0 * torch.stack([torch.cos(torch.arange(8) * math.pi / 4), torch.sin(torch.arange(8) * math.pi / 4)], dim=1)


def ring(n=5000, std=0.1, modes=range(8), seed=0):
    """Samples of the ring's Gaussians (only the given modes), [n, 2]."""
    g = torch.Generator().manual_seed(seed)
    modes = torch.tensor(list(modes))
    pick = modes[torch.randint(0, len(modes), (n,), generator=g)]
    return CENTRES[pick] + std * torch.randn(n, 2, generator=g)


def smeared_ring(n=5000, seed=1):
    """Samples spread evenly along the whole circle: every mode reached, most samples between the modes."""
    g = torch.Generator().manual_seed(seed)
    angle = 2 * math.pi * torch.rand(n, generator=g)
    radius = 2.0 + 0.1 * torch.randn(n, generator=g)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


def plane_cloud(n=5000, scale=1.5, seed=2):
    """A Gaussian cloud over the whole plane."""
    return scale * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


COLLAPSED = ring(modes=[2], std=0.15)  # one mode
COVERING = ring()


def returns(*values):
    """An experiment that returns these values."""
    return lambda: values


@pytest.mark.parametrize(
    "collapsed, covering",
    [
        (COLLAPSED, COVERING),
        (torch.tensor([1.0, 0.5]) + 0.05 * plane_cloud(), COVERING),  # bunched between the modes
        (ring(modes=[0, 1], std=0.2), ring(std=0.2)),  # two modes; a covering run with 68% on the modes
        (COLLAPSED, ring(modes=range(6))),  # two modes starved
        (COLLAPSED.double().requires_grad_(), COVERING.clone().requires_grad_()),  # any float dtype, attached or not
    ],
)
def test_collapse_and_cover_accepts_a_collapsed_and_a_covering_run(collapsed, covering):
    assert gans.check_collapse_and_cover(returns(collapsed, covering)).passed


def test_collapse_and_cover_accepts_a_list_and_reports_the_coverage():
    verdict = gans.check_collapse_and_cover(lambda: [COLLAPSED, COVERING])
    assert verdict.passed and "1 of 8 modes" in verdict.message and "the covering run 8" in verdict.message


def test_collapse_and_cover_lowers_the_quality_bar_only_when_asked():
    wide = ring(std=0.3)  # every mode reached, about 40% of the samples within 3 std of a mode
    assert fails_with(gans.check_collapse_and_cover(returns(COLLAPSED, wide)), "blurry cloud", "at least 50%")
    assert gans.check_collapse_and_cover(returns(COLLAPSED, wide), min_on_mode=0.3).passed


@pytest.mark.parametrize(
    "fn, fragments",
    [
        (stub, ["not done yet"]),
        (returns(COVERING, COLLAPSED), ["swapped", "collapsed run's samples first"]),
        (returns(COLLAPSED, ring(modes=[5], seed=3)), ["both runs collapsed", "covering run reaches 1 of the 8"]),
        (returns(ring(seed=4), COVERING), ["both runs cover the ring", "collapse was not provoked"]),
        (returns(COLLAPSED, smeared_ring()), ["blurry cloud", "reaches 8 of the 8 modes", "at least 50%"]),
        (returns(COLLAPSED, plane_cloud()), ["cloud spread over the plane"]),
        (returns(COLLAPSED, ring(modes=range(4))), ["reaches only 4 of the 8 modes", "at least 6"]),
        (returns(ring(modes=range(4)), COVERING), ["collapsed run still reaches 4 of the 8 modes", "at most 2"]),
        (returns(plane_cloud(scale=3.0), COVERING), ["spread as widely as the ring", "diverged"]),
        (returns(COLLAPSED, COLLAPSED), ["same samples"]),
        (returns(COLLAPSED, COVERING.T), ["covering samples have shape [2, 5000]", "transposed"]),
        (returns(COLLAPSED.unsqueeze(0), COVERING), ["collapsed samples have shape [1, 5000, 2]", "expected [N, 2]"]),
        (returns(COLLAPSED, COVERING[:, :1]), ["shape [5000, 1]", "expected [N, 2]"]),
        (returns(COLLAPSED[:500], COVERING), ["only 500 collapsed samples", "at least 1000"]),
        (returns(COLLAPSED, torch.full((5000, 2), float("nan"))), ["NaN or inf", "diverged"]),
        (returns(COLLAPSED, COVERING.numpy()), ["covering samples should be a torch.Tensor"]),
        (lambda: COVERING, ["two tensors of samples", "got a Tensor"]),
        (returns(COLLAPSED, COVERING, COVERING), ["two tensors of samples", "got 3 values"]),
    ],
)
def test_collapse_and_cover_rejects_known_mistakes(fn, fragments):
    assert fails_with(gans.check_collapse_and_cover(fn), *fragments)


# --- gradient_penalty -------------------------------------------------------------------------------------------


def make_gp(u_shape="sample", where="interpolate", create_graph=True, norm="flat", square=True, lam=1.0):
    """A gradient penalty; the options introduce known mistakes."""

    def gp(critic, real, fake):
        b = real.shape[0]
        if u_shape == "sample":
            u = torch.rand(b, *([1] * (real.dim() - 1)))
        elif u_shape == "batch":
            u = torch.rand(1)
        else:  # one per pixel
            u = torch.rand_like(real)
        x_interp = {"interpolate": u * real + (1 - u) * fake, "real": real}[where].requires_grad_(True)
        scores = critic(x_interp)
        (grad,) = torch.autograd.grad(scores.sum(), x_interp, create_graph=create_graph)
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
    u = torch.rand(real.shape[0], 1, 1, 1)
    x_interp = u * real + (1 - u) * fake
    (grad,) = torch.autograd.grad(critic(x_interp).sum(), x_interp, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize(
    "fn, fragments",
    [
        (stub, ["not done yet"]),
        (make_gp(create_graph=False), ["create_graph option"]),
        (make_gp(norm="dim1"), ["one gradient norm per sample", "non-batch dimensions together"]),
        (make_gp(square=False), ["square is missing"]),
        (make_gp(norm="squared"), ["squared gradient norm"]),
        (make_gp(lam=10.0), ["lambda_GP"]),
        (make_gp(where="real"), ["random interpolates"]),
        (make_gp(u_shape="batch"), ["one u per sample"]),
        (make_gp(u_shape="pixel"), ["per sample", "not per pixel"]),
        (no_requires_grad, ["does not require gradients", "requiring gradients before they go into the critic"]),
    ],
)
def test_gradient_penalty_rejects_known_mistakes(fn, fragments):
    assert fails_with(gans.check_gradient_penalty(fn), *fragments)
