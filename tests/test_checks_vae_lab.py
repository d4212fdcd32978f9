"""The lab 2 checks accept right answers and reject known-wrong ones with a specific message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fails, stub
from torch import nn
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from utils.checks import vae_lab

# ----------------------------------------------------------------------------------------- encoder


class EncoderOK(nn.Module):
    """Right: MLP with one 2*z_dim head split into mu and logvar."""

    def __init__(self, x_dim=784, hidden=512, z_dim=20):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(x_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class EncoderTwoHeads(nn.Module):
    """Right: two separate heads."""

    def __init__(self, x_dim=784, hidden=512, z_dim=20):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(x_dim, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, z_dim), nn.Linear(hidden, z_dim)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class EncoderWrong(EncoderOK):
    """Configurable wrong encoders."""

    def __init__(self, mistake, x_dim=784, hidden=512, z_dim=20):
        super().__init__(x_dim, hidden, z_dim)
        self.mistake = mistake
        self.linear = nn.Sequential(nn.Flatten(), nn.Linear(x_dim, 2 * z_dim))

    def forward(self, x):
        mu, logvar = super().forward(x)
        if self.mistake == "one_tensor":
            return torch.cat([mu, logvar], dim=1)
        if self.mistake == "same":
            return mu, mu
        if self.mistake == "relu_logvar":
            return mu, torch.relu(logvar)
        if self.mistake == "exp_logvar":
            return mu, logvar.exp()
        if self.mistake == "relu_all":
            return torch.relu(mu), torch.relu(logvar) - 0.1
        if self.mistake == "linear":
            return self.linear(x).chunk(2, dim=1)
        if self.mistake == "detached":
            return mu, logvar.detach()
        if self.mistake == "ignores_x":
            return mu[:1].expand_as(mu), logvar[:1].expand_as(logvar)
        if self.mistake == "triple":
            return mu, logvar, mu
        return mu, logvar


class EncoderNoFlatten(nn.Module):
    """Wrong: the first Linear gets the images [B, 1, 28, 28] as they come."""

    def __init__(self, x_dim=784, hidden=512, z_dim=20):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))

    def forward(self, x):
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


def wrong_encoder(mistake):
    """A class whose instances make one mistake."""
    return lambda x_dim, hidden, z_dim: EncoderWrong(mistake, x_dim, hidden, z_dim)


def test_encoder_correct_passes(capsys):
    for cls in (EncoderOK, EncoderTwoHeads):
        v = vae_lab.check_encoder(cls)
        assert v.passed, v.line()
    assert "[PASS] encoder" in capsys.readouterr().out


def test_encoder_stub_fails():
    assert_fails(vae_lab.check_encoder(stub), "not done yet")


class EncoderStubForward(nn.Module):
    """The student copy: __init__ done, forward not."""

    def __init__(self, x_dim=784, hidden=512, z_dim=20):
        super().__init__()
        self.lin = nn.Linear(x_dim, z_dim)

    def forward(self, x):
        raise NotImplementedError("Exercise 1: the encoder: write your code here")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (EncoderStubForward, "not done yet"),
        (wrong_encoder("one_tensor"), "returned one tensor"),
        (EncoderNoFlatten, "flatten each image to a vector of 784 numbers"),
        (wrong_encoder("triple"), "pair (mu, logvar)"),
        (wrong_encoder("same"), "mu and logvar are equal"),
        (wrong_encoder("relu_logvar"), "every logvar is >= 0"),
        (wrong_encoder("exp_logvar"), "every logvar is >= 0"),
        (wrong_encoder("relu_all"), "every mu is >= 0"),
        (wrong_encoder("linear"), "linear in x"),
        (wrong_encoder("detached"), "no gradient reaches"),
        (wrong_encoder("ignores_x"), "does the encoder use its input"),
        (lambda x_dim, hidden, z_dim: EncoderOK(x_dim, hidden, z_dim + 1), "expected [32, 5]"),
        (lambda x_dim, hidden, z_dim: "not a module", "should build an nn.Module"),
        (lambda x_dim, hidden, z_dim: nn.Identity(), "has no parameters"),
    ],
)
def test_encoder_wrong_fails(wrong, fragment):
    assert_fails(vae_lab.check_encoder(wrong), fragment)


# ----------------------------------------------------------------------------------------- reparameterise


def reparam_ok(mu, logvar):
    """Right."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def reparam_other_noise(mu, logvar):
    """Right, but the noise comes from another draw order (judged by its statistics)."""
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(mu.shape[::-1]).T
    return mu + std * eps


def test_reparameterise_correct_passes():
    for fn in (reparam_ok, reparam_other_noise):
        v = vae_lab.check_reparameterise(fn)
        assert v.passed, v.line()


def test_reparameterise_stub_fails():
    assert_fails(vae_lab.check_reparameterise(stub), "not done yet")


def test_reparameterise_leaves_the_global_seed_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    vae_lab.check_reparameterise(reparam_ok)
    assert torch.equal(torch.rand(3), expected)


FIXED = torch.Generator().manual_seed(0)


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda mu, logvar: mu + logvar * torch.randn_like(mu), "logvar as the standard deviation"),
        (lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu), "by the variance exp(logvar)"),
        (lambda mu, logvar: mu + 0.5 * logvar * torch.randn_like(mu), "forgot the exp"),
        (lambda mu, logvar: mu + torch.exp(-0.5 * logvar) * torch.randn_like(mu), "1/sigma"),
        (lambda mu, logvar: mu, "forgot the noise"),
        (lambda mu, logvar: torch.exp(0.5 * logvar) * torch.randn_like(mu), "forgot to add mu"),
        (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.rand_like(mu), "not uniform"),
        (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape[1]), "every row of z is the same"),
        (
            lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=FIXED.manual_seed(0)),
            "draw new noise",
        ),
        (lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).detach(), "detached"),
        (lambda mu, logvar: torch.normal(mu, torch.exp(0.5 * logvar)), "detached"),
        (lambda mu, logvar: mu.detach() + torch.exp(0.5 * logvar) * torch.randn_like(mu), "dz/dmu"),
        (lambda mu, logvar: mu + torch.exp(0.5 * logvar).detach() * torch.randn_like(mu), "reaches logvar"),
        (lambda mu, logvar: reparam_ok(mu, logvar)[:10], "expected [20000, 3]"),
        (lambda mu, logvar: reparam_ok(mu, logvar).detach().numpy(), "should be a torch.Tensor"),
        (lambda mu, logvar: reparam_ok(mu + 2.0, logvar), "sample mean"),
        (lambda mu, logvar: mu + 3 * torch.exp(0.5 * logvar) * torch.randn_like(mu), "standard deviation of z"),
    ],
)
def test_reparameterise_wrong_fails(wrong, fragment):
    assert_fails(vae_lab.check_reparameterise(wrong), fragment)


# ----------------------------------------------------------------------------------------- decoder


class DecoderOK(nn.Module):
    """Right: MLP returning logits shaped as images."""

    def __init__(self, z_dim=20, hidden=512, x_dim=784):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, x_dim))

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


class DecoderWrong(DecoderOK):
    """Configurable wrong decoders."""

    def __init__(self, mistake, z_dim=20, hidden=512, x_dim=784):
        super().__init__(z_dim, hidden, x_dim)
        self.mistake = mistake
        self.linear = nn.Linear(z_dim, x_dim)
        self.unused = nn.Linear(3, 3)

    def forward(self, z):
        x = super().forward(z)
        if self.mistake == "flat":
            return x.view(-1, 784)
        if self.mistake == "sigmoid":
            return torch.sigmoid(x)
        if self.mistake == "relu":
            return torch.relu(x) + 1.0
        if self.mistake == "linear":
            return self.linear(z).view(-1, 1, 28, 28)
        if self.mistake == "ignores_z":
            return x[:1].expand_as(x)
        if self.mistake == "unused":
            return x + 0 * self.unused.weight.sum().detach()
        return x


def wrong_decoder(mistake):
    """A class whose instances make one mistake."""
    return lambda z_dim, hidden, x_dim: DecoderWrong(mistake, z_dim, hidden, x_dim)


def test_decoder_correct_passes(capsys):
    v = vae_lab.check_decoder(DecoderOK)
    assert v.passed, v.line()
    assert "[PASS] decoder" in capsys.readouterr().out


def test_decoder_stub_fails():
    assert_fails(vae_lab.check_decoder(stub), "not done yet")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (wrong_decoder("flat"), "reshape it to images"),
        (wrong_decoder("sigmoid"), "applied a sigmoid"),
        (wrong_decoder("relu"), "remove the final ReLU"),
        (wrong_decoder("linear"), "linear in z"),
        (wrong_decoder("ignores_z"), "does the decoder use its input z"),
        (wrong_decoder("unused"), "no gradient reaches"),
        (lambda z_dim, hidden, x_dim: DecoderOK(z_dim + 1, hidden, x_dim), "your code raised RuntimeError"),
    ],
)
def test_decoder_wrong_fails(wrong, fragment):
    assert_fails(vae_lab.check_decoder(wrong), fragment)


# ----------------------------------------------------------------------------------------- vae_loss


def loss_ok(x_logits, x, mu, logvar, beta=1.0):
    """Right: BCE with logits and the closed-form KL, summed per image, averaged over the batch."""
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / b
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
    return recon + beta * kl, recon, kl


def loss_ok_bce(x_logits, x, mu, logvar, beta=1.0):
    """Right: sigmoid once, then BCE on probabilities, per-image sums averaged."""
    recon = F.binary_cross_entropy(torch.sigmoid(x_logits), x, reduction="none").sum(dim=(1, 2, 3)).mean()
    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
    return recon + beta * kl, recon, kl


def test_vae_loss_correct_passes(capsys):
    for fn in (loss_ok, loss_ok_bce):
        v = vae_lab.check_vae_loss(fn)
        assert v.passed, v.line()
    assert "[PASS] vae_loss" in capsys.readouterr().out


def test_vae_loss_stub_fails():
    assert_fails(vae_lab.check_vae_loss(stub), "not done yet")


def with_recon(recon_fn):
    """A loss whose reconstruction term is recon_fn(x_logits, x) and KL is right."""

    def fn(x_logits, x, mu, logvar, beta=1.0):
        _, _, kl = loss_ok(x_logits, x, mu, logvar)
        recon = recon_fn(x_logits, x)
        return recon + beta * kl, recon, kl

    return fn


def with_kl(kl_fn):
    """A loss whose KL term is kl_fn(mu, logvar) and reconstruction is right."""

    def fn(x_logits, x, mu, logvar, beta=1.0):
        _, recon, _ = loss_ok(x_logits, x, mu, logvar)
        kl = kl_fn(mu, logvar)
        return recon + beta * kl, recon, kl

    return fn


def with_total(total_fn):
    """A loss with right terms but total = total_fn(recon, kl, beta)."""

    def fn(x_logits, x, mu, logvar, beta=1.0):
        _, recon, kl = loss_ok(x_logits, x, mu, logvar)
        return total_fn(recon, kl, beta), recon, kl

    return fn


B = 4
bce = F.binary_cross_entropy_with_logits


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (with_recon(lambda xl, x: bce(xl, x)), "averaged over pixels"),
        (with_recon(lambda xl, x: bce(xl, x, reduction="sum")), "summed over the batch"),
        (with_recon(lambda xl, x: bce(torch.sigmoid(xl), x, reduction="sum") / B), "sigmoid twice"),
        (with_recon(lambda xl, x: bce(x, xl, reduction="sum") / B), "swapped"),
        (with_recon(lambda xl, x: ((torch.sigmoid(xl) - x) ** 2).sum() / B), "squared error"),
        (with_recon(lambda xl, x: -bce(xl, x, reduction="sum") / B), "wrong sign"),
        (with_recon(lambda xl, x: F.binary_cross_entropy(xl, x, reduction="sum") / B), "outside [0, 1]"),
        (with_recon(lambda xl, x: bce(xl, x, reduction="sum") / B + 1.0), "expected"),
        (with_kl(lambda mu, lv: 0.5 * torch.sum(1 + lv - mu**2 - lv.exp()) / B), "KL term has the wrong sign"),
        (with_kl(lambda mu, lv: -0.5 * torch.mean(1 + lv - mu**2 - lv.exp())), "averaged over the latent"),
        (with_kl(lambda mu, lv: -0.5 * torch.sum(1 + lv - mu**2 - lv.exp())), "KL term is summed over the batch"),
        (with_kl(lambda mu, lv: -torch.sum(1 + lv - mu**2 - lv.exp()) / B), "factor 0.5"),
        (with_kl(lambda mu, lv: 0.5 * torch.sum(mu**2 + lv**2 - torch.log(lv**2) - 1) / B), "logvar as the standard"),
        (with_kl(lambda mu, lv: -0.5 * torch.sum(1 + 2 * lv - mu**2 - (2 * lv).exp()) / B), "exp(logvar) as the standard"),
        (with_kl(lambda mu, lv: -0.5 * torch.sum(1 + lv - lv.exp()) / B), "mu^2 term"),
        (with_kl(lambda mu, lv: -0.5 * torch.sum(lv - mu**2 - lv.exp()) / B), "constant 1 per latent dimension"),
        (with_kl(lambda mu, lv: torch.zeros((), dtype=mu.dtype)), "the KL term is 0"),
        (with_total(lambda r, k, beta: r), "only the reconstruction term"),
        (with_total(lambda r, k, beta: r - beta * k), "wrong sign"),
        (with_total(lambda r, k, beta: -(r + beta * k)), "negative ELBO"),
        (with_total(lambda r, k, beta: r + k), "beta is ignored"),
        (with_total(lambda r, k, beta: r + beta * k * 1.5 if beta != 1 else r + k), "with beta = 4"),
        (with_total(lambda r, k, beta: (r + beta * k).detach()), "detached"),
        (with_total(lambda r, k, beta: r.detach() + beta * k), "gradient w.r.t. x_logits"),
        (lambda xl, x, mu, lv, beta=1.0: loss_ok(xl, x, mu, lv, beta)[0], "returned one tensor"),
        (lambda xl, x, mu, lv, beta=1.0: loss_ok(xl, x, mu, lv, beta)[:2], "tuple (loss, recon, kl)"),
        (lambda xl, x, mu, lv, beta=1.0: (lambda t: (t[0], t[2], t[1]))(loss_ok(xl, x, mu, lv, beta)), "swapped"),
        (
            lambda xl, x, mu, lv, beta=1.0: (bce(xl, x, reduction="none").sum(dim=(1, 2, 3)),) * 3,
            "single number",
        ),
    ],
)
def test_vae_loss_wrong_fails(wrong, fragment):
    assert_fails(vae_lab.check_vae_loss(wrong), fragment)


# ----------------------------------------------------------------------------------------- train_step


def step_ok(model, optimizer, x, beta=1.0):
    """Right."""
    optimizer.zero_grad()
    x_logits, mu, logvar = model(x)
    loss, recon, kl = loss_ok(x_logits, x, mu, logvar, beta)
    loss.backward()
    optimizer.step()
    return loss.detach(), recon.detach(), kl.detach()


def step_items(model, optimizer, x, beta=1.0):
    """Right, returning Python floats, zeroing the gradients with set_to_none=False."""
    optimizer.zero_grad(set_to_none=False)
    x_logits, mu, logvar = model(x)
    loss, recon, kl = loss_ok(x_logits, x, mu, logvar, beta)
    loss.backward()
    optimizer.step()
    return loss.item(), recon.item(), kl.item()


def make_step(mistake):
    """A train_step making one mistake."""

    def fn(model, optimizer, x, beta=1.0):
        if mistake != "no_zero_grad":
            optimizer.zero_grad()
        x_logits, mu, logvar = model(x)
        loss, recon, kl = loss_ok(x_logits, x, mu, logvar, 1.0 if mistake == "no_beta" else beta)
        target = {"ascent": -loss, "recon_only": recon, "kl_only": kl}.get(mistake, loss)
        target.backward()
        if mistake == "zero_after_backward":
            optimizer.zero_grad()
        if mistake != "no_step":
            optimizer.step()
        if mistake == "attached":
            return loss, recon, kl
        if mistake == "one_value":
            return loss.detach()
        if mistake == "loss_after":
            with torch.no_grad():
                return loss_ok(*model(x)[:1], x, *model(x)[1:], beta)
        return loss.detach(), recon.detach(), kl.detach()

    return fn


def test_train_step_correct_passes(capsys):
    for fn in (step_ok, step_items):
        v = vae_lab.check_train_step(fn)
        assert v.passed, v.line()
    assert "[PASS] train_step" in capsys.readouterr().out


def test_train_step_stub_fails():
    assert_fails(vae_lab.check_train_step(stub), "not done yet")


def test_train_step_with_a_stub_loss_fails():
    def step_with_stub_loss(model, optimizer, x, beta=1.0):
        optimizer.zero_grad()
        x_logits, mu, logvar = model(x)
        loss, recon, kl = stub(x_logits, x, mu, logvar, beta)
        return loss, recon, kl

    assert_fails(vae_lab.check_train_step(step_with_stub_loss), "not done yet")


@pytest.mark.parametrize(
    ("mistake", "fragment"),
    [
        ("no_zero_grad", "gradients were not zeroed"),
        ("zero_after_backward", "did not change"),
        ("no_step", "did not change"),
        ("ascent", "uphill"),
        ("recon_only", "only the reconstruction term"),
        ("kl_only", "only the KL term"),
        ("no_beta", "ignores beta"),
        ("attached", "attached to the graph"),
        ("one_value", "three values"),
        ("loss_after", "the loss before the step"),
    ],
)
def test_train_step_wrong_fails(mistake, fragment):
    assert_fails(vae_lab.check_train_step(make_step(mistake)), fragment)


def test_train_step_calling_the_model_twice_fails():
    def twice(model, optimizer, x, beta=1.0):
        optimizer.zero_grad()
        model(x)
        x_logits, mu, logvar = model(x)
        loss, recon, kl = loss_ok(x_logits, x, mu, logvar, beta)
        loss.backward()
        optimizer.step()
        return loss.detach(), recon.detach(), kl.detach()

    assert_fails(vae_lab.check_train_step(twice), "run the model once on x")


# ----------------------------------------------------------------------------------------- random state

CORRECT = [
    (vae_lab.check_encoder, EncoderOK),
    (vae_lab.check_reparameterise, reparam_ok),
    (vae_lab.check_decoder, DecoderOK),
    (vae_lab.check_vae_loss, loss_ok),
    (vae_lab.check_train_step, step_ok),
]


@pytest.mark.parametrize(("check", "answer"), CORRECT)
def test_checks_never_seed_the_global_generator(monkeypatch, check, answer):
    def no_seed(*args, **kwargs):
        raise AssertionError("a check called torch.manual_seed")

    monkeypatch.setattr(torch, "manual_seed", no_seed)
    monkeypatch.setattr(torch.random, "manual_seed", no_seed)
    v = check(answer)
    assert v.passed, v.line()


@pytest.mark.parametrize(("check", "answer"), CORRECT)
def test_checks_leave_the_notebook_random_state_alone(check, answer):
    torch.manual_seed(321)
    expected = torch.rand(3)
    torch.manual_seed(321)
    check(answer)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_verdicts_do_not_depend_on_the_notebook_seed(seed):
    torch.manual_seed(seed)
    for check, answer in CORRECT:
        v = check(answer)
        assert v.passed, v.line()
    assert_fails(vae_lab.check_encoder(wrong_encoder("relu_logvar")), "every logvar is >= 0")
    assert_fails(vae_lab.check_reparameterise(lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu)), "by the variance")
    assert_fails(vae_lab.check_decoder(wrong_decoder("sigmoid")), "applied a sigmoid")
    assert_fails(vae_lab.check_train_step(make_step("no_zero_grad")), "gradients were not zeroed")


def test_the_module_exposes_only_checks_and_require_passed():
    public = {name for name in vars(vae_lab) if not name.startswith("_") and callable(getattr(vae_lab, name))}
    own = {name for name in public if getattr(getattr(vae_lab, name), "__module__", None) == vae_lab.__name__}
    assert own == {"check_encoder", "check_reparameterise", "check_decoder", "check_vae_loss", "check_train_step", "check_widen"}
    assert vae_lab.require_passed is not None


# ------------------------------------------- exercise 3 is a contract: other architectures pass, oversized ones fail


class DecoderConv(nn.Module):
    """Right, and unlike DecoderOK: a linear layer to 7x7 feature maps, then transposed convolutions."""

    def __init__(self, z_dim=20, hidden=512, x_dim=784):
        super().__init__()
        c = max(hidden // 32, 4)
        self.net = nn.Sequential(
            nn.Linear(z_dim, c * 49),
            nn.ReLU(),
            nn.Unflatten(1, (c, 7, 7)),
            nn.ConvTranspose2d(c, c, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),
        )

    def forward(self, z):
        return self.net(z)


@pytest.mark.parametrize("decoder", [DecoderOK, DecoderConv], ids=["mlp", "transposed-conv"])
def test_decoder_contract_accepts_different_architectures(decoder, capsys):
    v = vae_lab.check_decoder(decoder)
    assert v.passed, v.line()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "parameters at the lab's size" in out


def test_decoder_over_the_parameter_budget_fails():
    def wide(z_dim, hidden, x_dim):
        return DecoderOK(z_dim, 4 * hidden, x_dim)  # about 1.7 million parameters at the lab's size

    assert_fails(vae_lab.check_decoder(wide), "over the budget of 1,500,000")
    assert vae_lab.check_decoder(wide, max_params=2_000_000).passed


class DecoderFixedBatch(DecoderOK):
    """Right in eager mode, but len(z) fixes the batch size of the program lab 3 would load."""

    def forward(self, z):
        return self.net(z).view(len(z), 1, 28, 28)


class EncoderDataDependent(EncoderOK):
    """Right in eager mode, but a Python branch on a tensor's value cannot be saved as a program."""

    def forward(self, x):
        mu, logvar = super().forward(x)
        return (mu, logvar) if x.sum().item() > -1 else (mu, logvar + 0)


def test_networks_that_cannot_be_saved_for_lab_3_fail():
    assert_fails(vae_lab.check_decoder(DecoderFixedBatch), "lab 3 loads the decoder as a saved program", "not len(x)")
    assert_fails(vae_lab.check_encoder(EncoderDataDependent), "lab 3 loads the encoder as a saved program", "`if` on tensor values")


# ------------------------------------------------------------------------------------------- widen


def _rebuilt(mixture, loc, cov):
    """A MixtureSameFamily with mixture's weights and the given means and covariances."""
    return MixtureSameFamily(mixture.mixture_distribution, MultivariateNormal(loc, cov))


def widen_ok(mixture, tau):
    comp = mixture.component_distribution
    return _rebuilt(mixture, comp.loc, tau**2 * comp.covariance_matrix)


def widen_by_scale_tril(mixture, tau):
    """Right, the other way: the Cholesky factor scales by tau."""
    comp = mixture.component_distribution
    return MixtureSameFamily(mixture.mixture_distribution, MultivariateNormal(comp.loc, scale_tril=tau * comp.scale_tril))


def test_widen_correct_passes():
    for fn in (widen_ok, widen_by_scale_tril):
        v = vae_lab.check_widen(fn)
        assert v.passed, v.message


def test_widen_stub_fails():
    assert_fails(vae_lab.check_widen(stub), "not done yet")


def test_widen_wrong_answers_fail_with_their_mistake():
    comp = lambda m: m.component_distribution  # noqa: E731
    wrong = {
        "scaled by tau:": lambda m, t: _rebuilt(m, comp(m).loc, t * comp(m).covariance_matrix),
        "tau**4": lambda m, t: _rebuilt(m, comp(m).loc, t**4 * comp(m).covariance_matrix),
        "unchanged": lambda m, t: m,
        "scaled the means too": lambda m, t: _rebuilt(m, t * comp(m).loc, t**2 * comp(m).covariance_matrix),
        "the weights changed": lambda m, t: MixtureSameFamily(
            Categorical(torch.ones(3) / 3), MultivariateNormal(comp(m).loc, t**2 * comp(m).covariance_matrix)
        ),
        "MixtureSameFamily of MultivariateNormal": lambda m, t: MultivariateNormal(comp(m).loc[0], t**2 * comp(m).covariance_matrix[0]),
        "tau**2 times": lambda m, t: _rebuilt(m, comp(m).loc, 2.0 * comp(m).covariance_matrix),  # a fixed width
    }
    for message, fn in wrong.items():
        assert_fails(vae_lab.check_widen(fn), message)


def test_widen_that_edits_the_given_mixture_fails():
    def in_place(mixture, tau):
        mixture.component_distribution.covariance_matrix.mul_(tau**2)
        return mixture

    assert_fails(vae_lab.check_widen(in_place), "changed the mixture it was given")


def test_widen_whose_samples_do_not_spread_fails():
    class Narrow(MixtureSameFamily):
        """Reports the widened covariances but samples the narrow mixture."""

        def __init__(self, mixture):
            comp = mixture.component_distribution
            super().__init__(mixture.mixture_distribution, MultivariateNormal(comp.loc, 4 * comp.covariance_matrix))
            self._narrow = mixture

        def sample(self, sample_shape=()):
            return self._narrow.sample(sample_shape)

    assert_fails(vae_lab.check_widen(lambda m, t: Narrow(m) if t == 2.0 else widen_ok(m, t)), "do not spread as its covariances say")
