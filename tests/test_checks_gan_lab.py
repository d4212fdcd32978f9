"""The Lab 1 checks accept correct answers and reject stubs and known mistakes with specific messages."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks import core, gan_lab

Z = 16


def stub(*args, **kwargs):
    """What the student copy holds before the exercise is done."""
    raise NotImplementedError("Exercise: write your code here")


class Gen(nn.Module):
    """A correct generator; options introduce known mistakes."""

    def __init__(self, out_act: str = "sigmoid", flat: bool = False, hidden: int = 64, ignore_z: bool = False, detach: bool = False):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(Z, hidden), nn.ReLU(), nn.Linear(hidden, 784))
        self.out_act, self.flat, self.ignore_z, self.detach = out_act, flat, ignore_z, detach

    def forward(self, z):
        if self.ignore_z:
            z = torch.zeros_like(z)
        h = self.net(z)
        if self.detach:
            h = h.detach() + 0 * z.sum()
        h = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "none": lambda t: t}[self.out_act](h)
        return h if self.flat else h.view(-1, 1, 28, 28)


class Disc(nn.Module):
    """A correct discriminator; options introduce known mistakes."""

    def __init__(self, sigmoid: str = "", squeeze: bool = False, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        if sigmoid == "module":
            self.net.append(nn.Sigmoid())
        self.sigmoid, self.squeeze = sigmoid, squeeze

    def forward(self, x):
        out = self.net(x)
        if self.sigmoid == "function":
            out = torch.sigmoid(out)
        return out.squeeze(1) if self.squeeze else out


def d_loss(real_logits, fake_logits, real_label=1.0):
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    return real + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def g_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def failed(verdict, *fragments):
    """Assert a failing verdict whose message holds every fragment."""
    assert not verdict.passed, verdict.line()
    for f in fragments:
        assert f in verdict.message, (f, verdict.message)
    return True


# ---- generator ---------------------------------------------------------------------------------


def test_generator_correct_passes(capsys):
    v = gan_lab.check_generator(Gen, z_dim=Z)
    assert v.passed, v.line()
    assert capsys.readouterr().out.startswith("[PASS] generator")


def test_generator_stub_fails(capsys):
    class Stubbed(nn.Module):
        def __init__(self):
            super().__init__()
            stub()

    assert failed(gan_lab.check_generator(Stubbed, z_dim=Z), "not done yet")
    assert capsys.readouterr().out.startswith("[FAIL] generator: not done yet")


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Gen(flat=True), "reshape it to [B, 1, 28, 28]"),
        (lambda: Gen(out_act="tanh"), "a tanh gives [-1, 1]"),
        (lambda: Gen(out_act="none"), "end with nn.Sigmoid()"),
        (lambda: Gen(ignore_z=True), "must depend on the noise z"),
        (lambda: Gen(detach=True), "no gradient reaches"),
        (lambda: Gen(hidden=2), "too few"),
        (lambda: Gen(hidden=40_000), "far more than this lab needs"),
        (lambda: nn.Linear(Z, 784), "has shape [16, 784]"),
        (lambda: 3, "should build an nn.Module"),
    ],
)
def test_generator_mistakes_fail(make, fragment):
    assert failed(gan_lab.check_generator(make, z_dim=Z), fragment)


def test_generator_wrong_z_dim_is_explained():
    assert failed(gan_lab.check_generator(Gen, z_dim=Z + 1), "your code raised RuntimeError")


# ---- discriminator -----------------------------------------------------------------------------


def test_discriminator_correct_passes():
    assert gan_lab.check_discriminator(Disc).passed


def test_discriminator_stub_fails():
    class Stubbed(Disc):
        def forward(self, x):
            stub()

    assert failed(gan_lab.check_discriminator(Stubbed), "not done yet")


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Disc(sigmoid="module"), "ends with a sigmoid"),
        (lambda: Disc(sigmoid="function"), "ends with a sigmoid"),
        (lambda: Disc(squeeze=True), "shape [B, 1] (no .squeeze())"),
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 2)), "expected [16, 1]"),
        (lambda: Disc(hidden=4), "too few"),
    ],
)
def test_discriminator_mistakes_fail(make, fragment):
    assert failed(gan_lab.check_discriminator(make), fragment)


# ---- losses ------------------------------------------------------------------------------------


def test_discriminator_loss_correct_passes():
    assert gan_lab.check_discriminator_loss(d_loss).passed


def test_discriminator_loss_manual_formula_passes():
    def manual(real_logits, fake_logits, real_label=1.0):
        real = -(real_label * F.logsigmoid(real_logits) + (1 - real_label) * F.logsigmoid(-real_logits)).mean()
        return real - F.logsigmoid(-fake_logits).mean()

    assert gan_lab.check_discriminator_loss(manual).passed


def test_discriminator_loss_stub_fails():
    assert failed(gan_lab.check_discriminator_loss(stub), "not done yet")


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda r, f, real_label=1.0: d_loss(f, r, real_label), "labels are swapped"),
        (lambda r, f, real_label=1.0: F.binary_cross_entropy_with_logits(r, torch.ones_like(r)), "only the real term"),
        (lambda r, f, real_label=1.0: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), "only the fake term"),
        (lambda r, f, real_label=1.0: d_loss(r, f, real_label) * r.shape[0], "not the sum"),
        (lambda r, f, real_label=1.0: d_loss(r, f, real_label) / 2, "no division by 2"),
        (lambda r, f, real_label=1.0: -d_loss(r, f, real_label), "sign is flipped"),
        (
            lambda r, f, real_label=1.0: F.binary_cross_entropy(r, torch.ones_like(r)) + F.binary_cross_entropy(f, torch.zeros_like(f)),
            "logits",
        ),
        (lambda r, f, real_label=1.0: -(torch.log(r) + torch.log(1 - f)).mean(), "logits"),
        (lambda r, f, real_label=1.0: d_loss(r, f), "real_label is ignored"),
        (
            lambda r, f, real_label=1.0: (
                F.binary_cross_entropy_with_logits(r, torch.full_like(r, real_label))
                + F.binary_cross_entropy_with_logits(f, torch.full_like(f, 1 - real_label))
            ),
            "one-sided",
        ),
        (lambda r, f, real_label=1.0: d_loss(r, f, real_label).item(), "torch.Tensor"),
        (lambda r, f, real_label=1.0: d_loss(r.detach(), f.detach(), real_label), "no gradient flows back"),
        (lambda r, f, real_label=1.0: F.binary_cross_entropy_with_logits(r, torch.ones_like(r), reduction="none"), "single number"),
        (lambda r, f, real_label=1.0: d_loss(r, f, real_label) + 0.3, "expected"),
    ],
)
def test_discriminator_loss_mistakes_fail(fn, fragment):
    assert failed(gan_lab.check_discriminator_loss(fn), fragment)


def test_generator_loss_correct_passes():
    assert gan_lab.check_generator_loss(g_loss).passed
    assert gan_lab.check_generator_loss(lambda f: -F.logsigmoid(f).mean()).passed


def test_generator_loss_stub_fails():
    assert failed(gan_lab.check_generator_loss(stub), "not done yet")


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda f: torch.log(1 - torch.sigmoid(f)).mean(), "saturating loss"),
        (lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), "the target is 0"),
        (lambda f: F.logsigmoid(f).mean(), "sign is flipped"),
        (lambda f: g_loss(f) * f.shape[0], "not the sum"),
        (lambda f: F.binary_cross_entropy(f, torch.ones_like(f)), "logits"),
        (lambda f: -torch.log(f).mean(), "logits"),
        (lambda f: g_loss(f.detach()), "no gradient flows back"),
        (lambda f: -F.logsigmoid(f), "single number"),
        (lambda f: g_loss(f) * 1.5, "expected"),
    ],
)
def test_generator_loss_mistakes_fail(fn, fragment):
    assert failed(gan_lab.check_generator_loss(fn), fragment)


# ---- training step -----------------------------------------------------------------------------


def make_step(
    detach=True,
    zero_d=True,
    zero_g=True,
    d_step=True,
    g_step=True,
    g_first=False,
    own_z=False,
    logit_means=False,
    swap_g_target=False,
    keys=("d_loss", "g_loss", "d_real", "d_fake"),
    real_label=0.9,
    freeze_d=False,
    unfreeze_d=True,
    detach_once=False,
):
    """A training step with optional known mistakes (freeze_d: D's weights frozen for the G step).

    detach_once: the fakes are made once, detached, and reused for the G step, so no gradient reaches G.
    """

    def step(G, D, opt_G, opt_D, x, z):
        if own_z:
            z = torch.randn_like(z)
        out = {}

        def do_g():
            if freeze_d:
                D.requires_grad_(False)
            fake_logits_g = D(G(z)) if g_first else D(fake)
            loss = (
                F.binary_cross_entropy_with_logits(fake_logits_g, torch.zeros_like(fake_logits_g))
                if swap_g_target
                else g_loss(fake_logits_g)
            )
            if zero_g:
                opt_G.zero_grad()
            loss.backward()
            if g_step:
                opt_G.step()
            if freeze_d and unfreeze_d:
                D.requires_grad_(True)
            out["g_loss"] = loss.item()

        if g_first:
            do_g()
        fake = G(z).detach() if detach_once else G(z)
        real_logits, fake_logits = D(x), D(fake.detach() if detach else fake)
        loss_d = d_loss(real_logits, fake_logits, real_label)
        if zero_d:
            opt_D.zero_grad()
        loss_d.backward()
        if d_step:
            opt_D.step()
        if not g_first:
            do_g()
        squash = (lambda t: t) if logit_means else torch.sigmoid
        out.update(d_loss=loss_d.item(), d_real=squash(real_logits).mean().item(), d_fake=squash(fake_logits).mean().item())
        return {k: out[k] for k in keys}

    return step


def test_train_step_correct_passes():
    assert gan_lab.check_train_step(make_step(), real_label=0.9).passed
    assert gan_lab.check_train_step(make_step(real_label=1.0), real_label=1.0).passed


def test_train_step_freezing_d_for_the_g_step_passes():
    assert gan_lab.check_train_step(make_step(freeze_d=True), real_label=0.9).passed


def _no_grad_fakes_step(reuse_for_g: bool):
    """A step that makes the fakes under torch.no_grad() for the D step, then reuses them or makes new ones for G."""

    def step(G, D, opt_G, opt_D, x, z):
        with torch.no_grad():
            fake = G(z)
        real_logits, fake_logits = D(x), D(fake)
        loss_d = d_loss(real_logits, fake_logits, 0.9)
        opt_D.zero_grad()
        loss_d.backward()
        opt_D.step()
        loss_g = g_loss(D(fake if reuse_for_g else G(z)))
        opt_G.zero_grad()
        loss_g.backward()
        opt_G.step()
        return {
            "d_loss": loss_d,
            "g_loss": loss_g,
            "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean(),
        }

    return step


def test_train_step_recomputing_fakes_passes():
    assert gan_lab.check_train_step(_no_grad_fakes_step(reuse_for_g=False), real_label=0.9).passed


def test_train_step_stub_fails():
    def train_step(G, D, opt_G, opt_D, x, z):
        raise NotImplementedError("Exercise 5: training step: write your code here")

    assert failed(gan_lab.check_train_step(train_step, real_label=0.9), "not done yet")


def test_train_step_with_unfinished_loss_says_so():
    def train_step(G, D, opt_G, opt_D, x, z):
        return stub(D(x))

    assert failed(gan_lab.check_train_step(train_step, real_label=0.9), "calls an unfinished exercise")


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(detach=False), "detach"),
        (dict(detach=False, zero_g=False), "detach"),
        (dict(zero_d=False), "D's old gradients were not cleared"),
        (dict(zero_g=False), "G's old gradients were not cleared"),
        (dict(d_step=False), "a step of opt_D"),
        (dict(g_step=False), "a step of opt_G"),
        (dict(g_first=True), "the order is wrong"),
        (dict(g_first=True), "D step first, then the G step"),
        (dict(detach_once=True), "no gradient reached G in the G step"),
        (dict(detach_once=True, zero_g=False), "fakes it scored were detached"),
        (dict(own_z=True), "use the x and z you are given"),
        (dict(swap_g_target=True), "G's update differs"),
        (dict(real_label=1.0), "real_label=0.9"),
        (dict(logit_means=True), "mean of sigmoid(logits)"),
        (dict(keys=("d_loss", "g_loss")), "lacks d_real, d_fake"),
        (dict(freeze_d=True, unfreeze_d=False), "trainable again after the G step"),
    ],
)
def test_train_step_mistakes_fail(kwargs, fragment):
    assert failed(gan_lab.check_train_step(make_step(**kwargs), real_label=0.9), fragment)


def test_train_step_with_fakes_made_under_no_grad_and_reused_names_the_detach():
    v = gan_lab.check_train_step(_no_grad_fakes_step(reuse_for_g=True), real_label=0.9)
    assert failed(v, "no gradient reached G in the G step", "detached")
    assert "opt_G" not in v.message


def test_train_step_g_step_first_on_fakes_made_once_names_the_order():
    def step(G, D, opt_G, opt_D, x, z):
        fake = G(z)
        loss_g = g_loss(D(fake))
        opt_G.zero_grad()
        loss_g.backward()
        opt_G.step()
        real_logits, fake_logits = D(x), D(fake.detach())
        loss_d = d_loss(real_logits, fake_logits, 0.9)
        opt_D.zero_grad()
        loss_d.backward()
        opt_D.step()
        return {"d_loss": loss_d.item(), "g_loss": loss_g.item(), "d_real": 0.5, "d_fake": 0.5}

    assert failed(gan_lab.check_train_step(step, real_label=0.9), "the order is wrong", "D step first", "updated D")


def test_train_step_must_return_a_dict():
    assert failed(gan_lab.check_train_step(lambda *a: (1.0, 2.0), real_label=0.9), "should return a dict")


# ---- the gate before training --------------------------------------------------------------------


def test_require_passed():
    ok = gan_lab.check_generator_loss(g_loss)
    bad = gan_lab.check_generator_loss(stub)
    gan_lab.require_passed(ok)
    with pytest.raises(core.ExercisesNotFinished, match="generator_loss"):
        gan_lab.require_passed(ok, bad)


# ---- exercise 1 is a contract: any architecture that keeps it passes, one over budget fails --------------------


class ConvGen(nn.Module):
    """A DCGAN-style generator (linear to 7x7, two transposed convolutions), unlike the MLP above."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(Z, 2 * c * 49),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),
            nn.Sigmoid(),
        )

    def forward(self, z):
        return self.net(z)


@pytest.mark.parametrize("make", [Gen, ConvGen], ids=["mlp", "dcgan"])
def test_generator_contract_accepts_different_architectures(make, capsys):
    v = gan_lab.check_generator(make, z_dim=Z)
    assert v.passed, v.line()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "parameters (budget" in out


def test_generator_over_the_parameter_budget_fails():
    n = sum(p.numel() for p in Gen(hidden=2048).parameters())
    assert n > 1_000_000
    assert failed(gan_lab.check_generator(lambda: Gen(hidden=2048), z_dim=Z, max_params=1_000_000), "over the budget")
    assert gan_lab.check_generator(lambda: Gen(hidden=2048), z_dim=Z, max_params=n).passed


# ---- exercise 6: the acceptance probability of rejection sampling -------------------------------


def accept(logits, M):
    return torch.exp(logits - M).clamp(max=1)


def accept_in_place(logits, M):
    return logits.sub_(M).exp_().clamp_(max=1)


def test_accept_probability_correct_passes():
    assert gan_lab.check_accept_probability(accept).passed


def test_accept_probability_written_with_minimum_passes():
    assert gan_lab.check_accept_probability(lambda lg, M: torch.minimum(torch.ones_like(lg), (lg - M).exp())).passed


def test_accept_probability_stub_fails():
    assert failed(gan_lab.check_accept_probability(stub), "not done yet")


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda lg, M: torch.exp(M - lg).clamp(max=1), "upside down"),
        (lambda lg, M: torch.exp(lg - M), "capped at 1"),
        (lambda lg, M: torch.sigmoid(lg), "not the density ratio"),
        (lambda lg, M: torch.sigmoid(lg - M), "sigmoid(logits - M)"),
        (lambda lg, M: torch.exp(lg).clamp(max=1), "M is missing"),
        (lambda lg, M: (torch.exp(lg) / M).clamp(max=1), "exp(logits) / M"),
        (lambda lg, M: torch.rand_like(lg) < accept(lg, M), "not accept/reject decisions"),
        (lambda lg, M: accept(lg, M).mean(), "one probability per sample"),
        (lambda lg, M: accept(lg, M).squeeze()[None], "one probability per sample"),
        (accept_in_place, "in place"),
        (lambda lg, M: torch.exp(lg - M).clamp(min=0.2, max=1), "differ from the acceptance probabilities"),
        (lambda lg, M: 2 * torch.exp(lg - M).clamp(max=1), "probabilities lie in [0, 1]"),
        (lambda lg, M: accept(lg.view(-1), M), "keep the shape of logits"),
        (lambda lg, M: torch.tensor([min(1.0, math.exp(v - float(M))) for v in lg.flatten().tolist()]), "keep the shape"),
        (lambda lg, M: accept(lg, M) if lg.dim() == 1 else accept(lg, 0.0), "use tensor operations only"),
        (lambda lg, M: "0.5", "should be a torch.Tensor"),
    ],
)
def test_accept_probability_mistakes_fail(fn, fragment):
    assert failed(gan_lab.check_accept_probability(fn), fragment)


class FixedBatchGen(Gen):
    """Right in eager mode, but len(z) fixes the batch size of the program lab 3 would load."""

    def forward(self, z):
        return torch.sigmoid(self.net(z)).view(len(z), 1, 28, 28)


def test_generator_that_cannot_be_saved_for_lab_3_fails():
    assert failed(gan_lab.check_generator(FixedBatchGen, z_dim=Z), "lab 3 loads the generator as a saved program", "not len(x)")
