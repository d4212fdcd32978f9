"""Checks for Lab 1 (a GAN on MNIST): generator, discriminator, the two losses, one training step, rejection sampling."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from utils.checks.core import (
    StudentError,
    Verdict,
    call,
    call_loss_on_logits,
    is_close,
    name_mistake,
    require_grad_flow,
    require_param_grads,
    require_saveable,
    require_tensor,
    run_check,
)
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

IMAGE_SHAPE = (1, 28, 28)
MIN_PARAMS, MAX_PARAMS = 10_000, 20_000_000
GENERATOR_BUDGET = 1_500_000  # the contract of exercise 1: at most this many parameters
_bce = F.binary_cross_entropy_with_logits
_PROBABILITY_HINT = (
    "the inputs are logits (any real number), not probabilities: use F.binary_cross_entropy_with_logits "
    "(or F.logsigmoid), not F.binary_cross_entropy or torch.log"
)


def _count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _build(make: Callable[[], Any], what: str) -> nn.Module:
    """Instantiate the student's model class (or factory) and require an nn.Module with a sane size."""
    model = call(make)
    if not isinstance(model, nn.Module):
        raise StudentError(f"{what}() should build an nn.Module, got {type(model).__name__}.")
    n = _count_params(model)
    if n == 0:
        raise StudentError(f"{what} has no trainable parameters: create its layers in __init__ and store them as attributes of self.")
    if n < MIN_PARAMS:
        raise StudentError(f"{what} has only {n:,} parameters: too few to model 28x28 digits (use hidden layers).")
    if n > MAX_PARAMS:
        raise StudentError(f"{what} has {n:,} parameters: far more than this lab needs (or can train in minutes).")
    return model


def check_generator(make: Callable[[], Any], z_dim: int, batch: int = 16, max_params: int = GENERATOR_BUDGET) -> Verdict:
    """Generator() keeps the contract: noise [B, z_dim] -> images [B, 1, 28, 28] in [0, 1], within max_params."""
    n_params = []

    def body() -> None:
        G = _build(make, "Generator")
        n_params.append(_count_params(G))
        if n_params[0] > max_params:
            raise StudentError(
                f"Generator() has {n_params[0]:,} parameters, over the budget of {max_params:,}: training time grows "
                "with the size; use fewer channels or layers."
            )
        G.train()
        g = torch.Generator().manual_seed(0)
        z = torch.randn(batch, z_dim, generator=g)
        x = require_tensor(call(G, z), "Generator(z)")
        if tuple(x.shape) == (batch, 784):
            raise StudentError(
                f"output has shape [{batch}, 784]: reshape it to [B, 1, 28, 28], each row of 784 pixels into one 28x28 image."
            )
        if tuple(x.shape) != (batch, *IMAGE_SHAPE):
            raise StudentError(f"output for z of shape [{batch}, {z_dim}] has shape {list(x.shape)}, expected [{batch}, 1, 28, 28].")
        lo, hi = x.min().item(), x.max().item()
        if lo < 0 or hi > 1:
            if lo >= -1 and hi <= 1:
                raise StudentError(
                    f"outputs lie in [{lo:.2f}, {hi:.2f}]: a tanh gives [-1, 1], but images here are in [0, 1]; end with nn.Sigmoid()."
                )
            raise StudentError(f"outputs lie in [{lo:.2f}, {hi:.2f}], but pixels must be in [0, 1]: end with nn.Sigmoid().")
        if (x[0] - x[1:]).abs().max().item() < 1e-6:
            raise StudentError("every z gives the same image: the output must depend on the noise z.")
        if not x.requires_grad:
            raise StudentError("no gradient reaches the generator's parameters: no .detach() or torch.no_grad() inside forward.")
        x.sum().backward()
        require_param_grads(G, "the generator")
        G.eval()
        with torch.no_grad():
            one = require_tensor(call(G, torch.randn(1, z_dim, generator=g)), "Generator(z) in eval mode")
        if tuple(one.shape) != (1, *IMAGE_SHAPE):
            raise StudentError(f"in eval mode, one z gives shape {list(one.shape)}, expected [1, 1, 28, 28].")
        require_saveable(G, z, "the generator")

    def success() -> str:
        """The pass message, with the parameter count."""
        return f"keeps the contract: noise -> images [B, 1, 28, 28] in [0, 1], {n_params[0]:,} parameters (budget {max_params:,})."

    return run_check("generator", body, success)


def _ends_with_sigmoid(D: nn.Module, x: torch.Tensor) -> bool:
    """True when D squashes its output into [0, 1] (an nn.Sigmoid, or probing the last Linear's bias)."""
    if any(isinstance(m, nn.Sigmoid) for m in D.modules()):
        return True
    linears = [m for m in D.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return False
    probe = copy.deepcopy(D).eval()
    last = [m for m in probe.modules() if isinstance(m, nn.Linear)][-1]
    if last.bias is None:
        return False
    outs = []
    with torch.no_grad():
        for shift in (20.0, -40.0):
            last.bias += shift
            outs.append(probe(x))
    return all(o.min().item() >= 0 and o.max().item() <= 1 for o in outs)


def check_discriminator(make: Callable[[], Any], batch: int = 16) -> Verdict:
    """Discriminator() maps images [B, 1, 28, 28] to one logit (raw score) per image, shape [B, 1]."""

    def body() -> None:
        D = _build(make, "Discriminator")
        D.train()
        x = torch.rand(batch, *IMAGE_SHAPE, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
        out = require_tensor(call(D, x), "Discriminator(x)")
        if tuple(out.shape) == (batch,):
            raise StudentError(f"output has shape [{batch}]: keep one column, shape [B, 1] (no .squeeze()).")
        if tuple(out.shape) != (batch, 1):
            raise StudentError(f"output for images of shape [{batch}, 1, 28, 28] has shape {list(out.shape)}, expected [{batch}, 1].")
        if not torch.isfinite(out).all():
            raise StudentError("output contains nan or inf.")
        if _ends_with_sigmoid(D, x.detach()):
            raise StudentError(
                "D outputs probabilities (it ends with a sigmoid): return the raw score (logit); the losses "
                "apply the sigmoid inside binary_cross_entropy_with_logits, which is numerically stable."
            )
        out.sum().backward()
        require_param_grads(D, "the discriminator")
        if x.grad is None or x.grad.abs().sum().item() == 0:
            raise StudentError("the output does not depend on the input images (no gradient reaches x).")

    return run_check("discriminator", body, "correct: images [B, 1, 28, 28] -> logits [B, 1].")


def _ref_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Reference discriminator loss: BCE of real logits against real_label plus fake logits against 0."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    return real + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def _ref_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Reference non-saturating generator loss: mean of -log D(G(z))."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def _logits(seed: int, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches of test logits [n, 1] with both signs, requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    real = (torch.randn(n, 1, generator=g) * 2 + 0.5).requires_grad_()
    fake = (torch.randn(n, 1, generator=g) * 2 - 0.5).requires_grad_()
    return real, fake


def check_discriminator_loss(fn: Callable[..., Any]) -> Verdict:
    """fn(real_logits, fake_logits, real_label=1.0) equals BCE(real, real_label) + BCE(fake, 0), batch means."""

    def body() -> None:
        real, fake = _logits(1)
        n = real.shape[0]
        with torch.no_grad():
            ref = _ref_d_loss(real, fake)
            wrong = {
                "the labels are swapped: real images get target 1 and fakes target 0": _ref_d_loss(fake, real),
                "only the real term is there: the fake term, -log(1 - D(G(z))), which pushes D's verdict on fakes "
                "towards 0, is missing": _bce(real, torch.ones_like(real)),
                "only the fake term is there: the real term, -log D(x), which pushes D's verdict on real images "
                "towards real_label, is missing": _bce(fake, torch.zeros_like(fake)),
                "use the mean over the batch, not the sum": ref * n,
                "this is half the expected value: the D loss is the sum of the real and fake terms (no division by 2)": ref / 2,
            }
        value = call_loss_on_logits(fn, "discriminator_loss(real_logits, fake_logits)", _PROBABILITY_HINT, real, fake)
        if not is_close(value, ref):
            name_mistake(value, wrong)
            if is_close(value, -ref):
                raise StudentError("the sign is flipped: the loss is a sum of two binary cross-entropies, a positive number.")
            raise StudentError(
                f"value {value.item():.4f}, expected {ref.item():.4f} (the real term plus the fake term, each a mean over the batch)."
            )
        require_grad_flow(value, [real, fake])
        real2, fake2 = _logits(2)
        with torch.no_grad():
            ref_smooth = _ref_d_loss(real2, fake2, 0.9)
            two_sided = F.binary_cross_entropy_with_logits(real2, torch.full_like(real2, 0.9)) + (
                F.binary_cross_entropy_with_logits(fake2, torch.full_like(fake2, 0.1))
            )
        smooth = call_loss_on_logits(fn, "discriminator_loss(..., real_label=0.9)", _PROBABILITY_HINT, real2, fake2, real_label=0.9)
        if not is_close(smooth, ref_smooth):
            if is_close(smooth, _ref_d_loss(real2, fake2)):
                raise StudentError("real_label is ignored: use it as the target of the real images (label smoothing).")
            if is_close(smooth, two_sided):
                raise StudentError("label smoothing is one-sided: only the real targets become real_label; fakes keep 0.")
            raise StudentError(f"with real_label=0.9 the value is {smooth.item():.4f}, expected {ref_smooth.item():.4f}.")

    return run_check("discriminator_loss", body, "correct: BCE(real, real_label) + BCE(fake, 0).")


def check_generator_loss(fn: Callable[..., Any]) -> Verdict:
    """fn(fake_logits) is the non-saturating loss mean(-log D(G(z))) = BCE(fake_logits, 1)."""

    def body() -> None:
        _, fake = _logits(3)
        n = fake.shape[0]
        with torch.no_grad():
            ref = _ref_g_loss(fake)
            saturating = -F.softplus(fake).mean()  # mean log(1 - sigmoid(fake))
            wrong = {
                "this is the saturating loss log(1 - D(G(z))), whose gradient vanishes when D rejects the fakes; "
                "use the non-saturating loss -log D(G(z))": saturating,
                "the target is 0 (fakes labelled fake): G wants D to call its fakes real, so the target is 1": _bce(
                    fake, torch.zeros_like(fake)
                ),
                "the sign is flipped: minimise -log D(G(z)), a positive number": -ref,
                "use the mean over the batch, not the sum": ref * n,
            }
        value = call_loss_on_logits(fn, "generator_loss(fake_logits)", _PROBABILITY_HINT, fake)
        if not is_close(value, ref):
            name_mistake(value, wrong)
            raise StudentError(f"value {value.item():.4f}, expected {ref.item():.4f} (the batch mean of -log D(G(z))).")
        require_grad_flow(value, [fake])

    return run_check("generator_loss", body, "correct: the non-saturating loss -log D(G(z)).")


def _raised_in(err: BaseException, fn: Callable[..., Any]) -> bool:
    """True when err was raised by fn's own code (its stub), not by something it called."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = getattr(fn, "__code__", None)
    return tb is None or code is None or tb.tb_frame.f_code is code


def _tiny_models(z_dim: int) -> tuple[nn.Module, nn.Module]:
    """A deterministic linear generator and discriminator for testing a training step."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(z_dim, 784), nn.Sigmoid(), nn.Unflatten(1, IMAGE_SHAPE))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
    return G, D


def _reference_step(
    G: nn.Module,
    D: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    x: torch.Tensor,
    z: torch.Tensor,
    real_label: float,
    zero_d: bool = True,
    zero_g: bool = True,
    g_first: bool = False,
) -> dict[str, float]:
    """One reference step (and, through the flags, its usual mistakes)."""

    def g_step() -> float:
        g_loss = _ref_g_loss(D(G(z)))
        if zero_g:
            opt_G.zero_grad()
        g_loss.backward()
        opt_G.step()
        return g_loss.item()

    g_loss = g_step() if g_first else None
    fake = G(z).detach()
    real_logits, fake_logits = D(x), D(fake)
    d_loss = _ref_d_loss(real_logits, fake_logits, real_label)
    if zero_d:
        opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    if not g_first:
        g_loss = g_step()
    return {
        "d_loss": d_loss.item(),
        "g_loss": float(g_loss),
        "d_real": torch.sigmoid(real_logits).mean().item(),
        "d_fake": torch.sigmoid(fake_logits).mean().item(),
    }


def _setup(z_dim: int, lr: float = 0.05) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer, torch.optim.Optimizer]:
    """Tiny models whose gradients hold stale values (as after a previous step), with SGD optimizers."""
    G, D = _tiny_models(z_dim)
    for p in [*G.parameters(), *D.parameters()]:
        p.grad = torch.full_like(p, 0.05)
    return G, D, torch.optim.SGD(G.parameters(), lr=lr), torch.optim.SGD(D.parameters(), lr=lr)


def _same_params(a: nn.Module, b: nn.Module) -> bool:
    """True when two models hold the same weights (up to float rounding)."""
    return all(torch.allclose(p, q, rtol=1e-6, atol=1e-8) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def _unchanged(a: nn.Module, b: nn.Module) -> bool:
    """True when two models hold exactly the same weights."""
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def check_train_step(fn: Callable[..., Any], real_label: float = 1.0, z_dim: int = 8, batch: int = 8) -> Verdict:
    """fn(G, D, opt_G, opt_D, x, z) does one D step on detached fakes, then one non-saturating G step."""

    def body() -> None:
        g = torch.Generator().manual_seed(4)
        x = torch.rand(batch, *IMAGE_SHAPE, generator=g)
        z = torch.randn(batch, z_dim, generator=g)
        G, D, opt_G, opt_D = _setup(z_dim)
        G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
        backward_passes = [0]  # gradients that reached G's first parameter
        first = next(iter(G.parameters()))
        hook = first.register_hook(lambda grad: backward_passes.__setitem__(0, backward_passes[0] + 1))
        try:
            out = call(fn, G, D, opt_G, opt_D, x, z)
        except NotImplementedError as err:
            if not _raised_in(err, fn):
                raise StudentError(f"train_step calls an unfinished exercise ({err}).") from None
            raise
        except RuntimeError as err:
            if "backward through the graph a second time" in str(err):
                raise StudentError(
                    "the fakes were not detached in the D step: D's backward pass went on into the generator's graph "
                    "and freed it; cut the fakes off from G's graph for the D step, so that only the G step reaches G."
                ) from None
            raise
        finally:
            hook.remove()
        if not isinstance(out, dict):
            raise StudentError(f"train_step should return a dict of numbers, got {type(out).__name__}.")
        missing = [k for k in ("d_loss", "g_loss", "d_real", "d_fake") if k not in out]
        if missing:
            raise StudentError(f"the returned dict lacks {', '.join(missing)} (keys: d_loss, g_loss, d_real, d_fake).")
        if any(not p.requires_grad for p in D.parameters()):
            raise StudentError(
                "D is still frozen after train_step: make D's parameters trainable again after the G step, or D stops learning."
            )
        if backward_passes[0] > 1:
            raise StudentError(
                "gradients reached the generator during the D step: the fakes D scores in its step must be detached "
                "from G's graph, so that only the G step trains G."
            )
        if backward_passes[0] == 0:
            raise StudentError(
                "no gradient reached G in the G step: the fakes it scored were detached from G's graph (made once with "
                "a detach, or under torch.no_grad(), and reused); the G step needs fakes that still carry G's graph, and a "
                "backward pass of the G loss."
            )
        if _unchanged(D, D0):
            raise StudentError("D's weights did not change: the D step needs a step of opt_D after the D loss's backward pass.")
        if _unchanged(G, G0):
            raise StudentError("G's weights did not change: the G step needs a step of opt_G after the G loss's backward pass.")

        def variant(**flags: bool) -> tuple[nn.Module, nn.Module, dict[str, float]]:
            Gr, Dr, oG, oD = _setup(z_dim)
            return Gr, Dr, _reference_step(Gr, Dr, oG, oD, x, z, real_label, **flags)

        Gr, Dr, ref = variant()
        G_first = variant(g_first=True)[0]
        if _same_params(G, G_first):  # G's update was scored by the old D, whatever the D step did afterwards
            raise StudentError("the order is wrong: G was updated before D. Do the D step first, then the G step, scored by the updated D.")
        if not _same_params(D, Dr):
            if _same_params(D, variant(zero_d=False)[1]):
                raise StudentError("D's old gradients were not cleared: zero opt_D's gradients before the D loss's backward pass.")
            raise StudentError(
                f"D's update differs from one step on your discriminator_loss of the real batch and the detached fakes with "
                f"real_label={real_label}: use the x and z you are given, and make sure your loss checks pass."
            )
        if not _same_params(G, Gr):
            if _same_params(G, variant(zero_g=False)[0]):
                raise StudentError("G's old gradients were not cleared: zero opt_G's gradients before the G loss's backward pass.")
            raise StudentError(
                "G's update differs from one step on your generator_loss of the updated D's logits for the fakes: "
                "is the target or the loss of the G step the one of your generator_loss?"
            )
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            try:
                value = float(torch.as_tensor(out[key]).detach())
            except (TypeError, ValueError, RuntimeError):
                raise StudentError(f"out['{key}'] should be a number, got {type(out[key]).__name__}.") from None
            if not is_close(value, ref[key], rtol=1e-4, atol=1e-5):
                hint = " (a probability: the mean of sigmoid(logits))" if key in ("d_real", "d_fake") else ""
                raise StudentError(f"out['{key}'] is {value:.4f}, expected {ref[key]:.4f}{hint}.")

    return run_check("train_step", body, "correct: a D step on detached fakes, then a non-saturating G step.")


def _ref_accept(logits: torch.Tensor, M: float | torch.Tensor) -> torch.Tensor:
    """Reference acceptance probability of discriminator rejection sampling: min(1, exp(logits - M))."""
    return torch.exp(logits - M).clamp(max=1.0)


def check_accept_probability(fn: Callable[..., Any]) -> Verdict:
    """fn(logits, M) is min(1, exp(logits - M)), elementwise, with the shape of logits."""

    def body() -> None:
        g = torch.Generator().manual_seed(5)
        logits = torch.randn(12, generator=g) * 2 - 0.5
        M = 1.5
        before = logits.clone()
        value = require_tensor(call(fn, logits, M), "accept_probability(logits, M)")
        if not torch.equal(logits, before):
            raise StudentError("the logits were changed in place: compute a new tensor (no exp_(), sub_() or clamp_() on them).")
        if value.dtype == torch.bool:
            raise StudentError("return probabilities (floats in [0, 1]), not accept/reject decisions: the next cell draws those.")
        if tuple(value.shape) != tuple(logits.shape):
            raise StudentError(
                f"for logits of shape {list(logits.shape)} the result has shape {list(value.shape)}: "
                "one probability per sample, the same shape as logits."
            )
        ref = _ref_accept(logits, M)
        if not is_close(value, ref):
            name_mistake(
                value,
                {
                    "the ratio is upside down: yours favours the samples D finds fake; the acceptance must grow with the logit": torch.exp(
                        M - logits
                    ).clamp(max=1.0),
                    "some values are above 1: a probability is at most 1, so the ratio must be capped at 1": torch.exp(logits - M),
                    "this is sigmoid(logits) = D(x), not the density ratio p_data / p_g = D / (1 - D), an exponential "
                    "of the logit": torch.sigmoid(logits),
                    "sigmoid(logits - M) is not the density ratio: the ratio is an exponential of the logit, not a sigmoid": torch.sigmoid(
                        logits - M
                    ),
                    "M is missing: the ratio must be divided by its bound e^M, so that only logits above M are always accepted": torch.exp(
                        logits
                    ).clamp(max=1.0),
                    "this is exp(logits) / M: M is a logit too, so the bound of the ratio is e^M, not M": (torch.exp(logits) / M).clamp(
                        max=1.0
                    ),
                },
            )
            if value.min().item() < 0 or value.max().item() > 1:
                raise StudentError(f"values in [{value.min().item():.3f}, {value.max().item():.3f}]: probabilities lie in [0, 1].")
            raise StudentError(
                "the values differ from the acceptance probabilities of the exercise (the density ratio over its bound, capped at 1)."
            )
        column = logits.view(-1, 1)  # [N] -> [N, 1], as D returns them
        M_tensor = torch.tensor(-0.3)  # a 0-dim tensor, as torch.quantile returns it
        value = require_tensor(call(fn, column, M_tensor), "accept_probability(logits of shape [N, 1], tensor M)")
        if tuple(value.shape) != tuple(column.shape):
            raise StudentError(
                f"for logits of shape {list(column.shape)} (as D returns them) the result has shape {list(value.shape)}: "
                "keep the shape of logits (no view, squeeze or flatten)."
            )
        if not is_close(value, _ref_accept(column, M_tensor)):
            raise StudentError(
                "with logits of shape [N, 1] and M a 0-dim tensor (as torch.quantile returns it) the result is wrong: "
                "use tensor operations only (torch.exp, clamp), no Python math or .item()."
            )

    return run_check("accept_probability", body, "correct: min(1, exp(logits - M)), the density ratio capped at 1.")
