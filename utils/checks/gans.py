"""Checks for Lecture 4 (GANs): the discriminator loss, the Jensen-Shannon divergence, the collapse experiment and the gradient penalty."""

from __future__ import annotations

import math
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
    require_scalar,
    require_tensor,
    require_values,
    run_check,
)
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

_LOGITS_HINT = (
    "the inputs are logits (any real number), not probabilities: compute log D(x) and log(1 - D(x)) from the logits "
    "with a log-sigmoid (F.logsigmoid), or use F.binary_cross_entropy_with_logits"
)


def _ref_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Reference: -(mean log D(x) + mean log(1 - D(G(z)))) from logits."""
    return -(F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean())


def check_discriminator_loss(fn: Callable[..., Any]) -> Verdict:
    """fn(d_real_logits, d_fake_logits) is -V(D, G): -mean log D(x) - mean log(1 - D(G(z))), from logits."""

    def body() -> None:
        g = torch.Generator().manual_seed(0)
        real = (torch.randn(16, 1, generator=g) * 2 + 0.5).requires_grad_()
        fake = (torch.randn(16, 1, generator=g) * 2 - 0.5).requires_grad_()
        with torch.no_grad():
            ref = _ref_d_loss(real, fake)
            real_term, fake_term = -F.logsigmoid(real).mean(), -F.logsigmoid(-fake).mean()
            wrong = {
                "the labels are swapped: real samples should be called real (D(x) -> 1) and fakes fake "
                "(D(G(z)) -> 0), so the loss is -log D(x) - log(1 - D(G(z)))": _ref_d_loss(fake, real),
                "the fake term is missing: the loss also holds -mean log(1 - D(G(z))), D's cost for calling fakes real": real_term,
                "the real term is missing: the loss also holds -mean log D(x), D's cost for calling real samples fake": fake_term,
                "the sign is flipped: this is V(D, G), which D maximises; the loss to minimise is -V(D, G)": -ref,
                "a sigmoid is applied twice: the inputs are already logits, so do not call torch.sigmoid before a "
                "function that expects logits": _ref_d_loss(torch.sigmoid(real), torch.sigmoid(fake)),
                "use the mean over the batch, not the sum": ref * real.shape[0],
                "this is half the expected value: the loss is the sum of the real and the fake term, not their average": ref / 2,
            }
        value = call_loss_on_logits(fn, "discriminator_loss(d_real_logits, d_fake_logits)", _LOGITS_HINT, real, fake)
        if not is_close(value, ref):
            name_mistake(value, wrong)
            raise StudentError(f"value {value.item():.4f}, expected {ref.item():.4f} = -mean log D(x) - mean log(1 - D(G(z))).")
        require_grad_flow(value, [real, fake])
        # A confident discriminator: log(1 - sigmoid(40)) is log(0) in float32 unless computed from the logit.
        big_real = torch.tensor([[40.0], [-30.0], [3.0]])
        big_fake = torch.tensor([[40.0], [-40.0], [-3.0]])
        big_ref = _ref_d_loss(big_real, big_fake)
        big = require_tensor(call(fn, big_real, big_fake), "discriminator_loss on large logits")
        if big.numel() != 1 or not is_close(big.reshape(()), big_ref, rtol=1e-3):
            got = f"{big.flatten()[0].item():.4g}" if big.numel() else "an empty tensor"
            raise StudentError(
                f"right for moderate logits but {got} instead of {big_ref.item():.4g} for large ones (|logit| = 40): "
                "log(1 - sigmoid(40)) rounds to log(0) in float32; compute both log-probabilities straight from the "
                "logits (a log-sigmoid, or a with-logits BCE), never as the log of a sigmoid."
            )

    return run_check("discriminator_loss", body, "correct: -mean log D(x) - mean log(1 - D(G(z))), computed from logits.")


def _ref_js(p: torch.Tensor, q: torch.Tensor, dx: float) -> torch.Tensor:
    """Reference JS divergence in nats between densities on a grid with spacing dx."""
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        safe = torch.where(a > 0, a / torch.where(m > 0, m, torch.ones_like(m)), torch.ones_like(a))
        return (a * safe.log()).sum() * dx

    return 0.5 * kl(p) + 0.5 * kl(q)


def _ref_kl(p: torch.Tensor, q: torch.Tensor, dx: float) -> torch.Tensor:
    """KL(p || q) on a grid (for spotting a KL returned instead of JS)."""
    return (p * (p / q).log()).sum() * dx


def _gauss(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    """Normal density on a grid."""
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def check_js_divergence(fn: Callable[..., Any]) -> Verdict:
    """fn(p, q, dx) is JS(p || q) in nats for densities p, q given on a grid with spacing dx."""

    def body() -> None:
        x = torch.linspace(-8, 8, 1601, dtype=torch.float64)
        dx = float(x[1] - x[0])
        p = 0.5 * _gauss(x, -1.5, 0.6) + 0.5 * _gauss(x, 1.5, 0.6)
        q = _gauss(x, 0.5, 1.2)
        ref = _ref_js(p, q, dx)
        value = require_tensor(call(fn, p, q, dx), "js_divergence(p, q, dx)")
        if value.dim() != 0:
            raise StudentError(
                f"js_divergence should return one number (0-dim tensor), got shape {list(value.shape)}: "
                "sum over the grid and multiply by dx."
            )
        if not torch.isfinite(value):
            raise StudentError(f"js_divergence is {value.item()}: check for log(0) or a division by zero.")
        if not is_close(value, ref):
            m = (p + q) / 2
            wrong = {
                "in bits: this book measures JS in nats, so use the natural log (torch.log)": ref / math.log(2),
                "this is KL(p || q), not JS: compare each density with the mixture m = (p + q) / 2": _ref_kl(p, q, dx),
                "this is KL(p || m) only: JS averages it with the other half, KL(q || m)": _ref_kl(p, m, dx),
                "the factors 1/2 are missing: JS averages the two KLs to the mixture, it does not add them": 2 * ref,
                "multiply the sum by the grid spacing dx to turn it into an integral": ref / dx,
                "the mixture m is the average of p and q, not their sum": ref - math.log(2),
            }
            name_mistake(value, wrong)
            raise StudentError(f"value {value.item():.5f}, expected {ref.item():.5f}.")
        # Disjoint supports: JS is exactly log 2, and 0 * log 0 must count as 0.
        p2 = torch.where(x < 0, 0.125, 0.0).to(torch.float64) * (x > -8)
        q2 = torch.where(x > 0, 0.125, 0.0).to(torch.float64) * (x < 8)
        value2 = require_tensor(call(fn, p2, q2, dx), "js_divergence on densities with zeros")
        if value2.dim() != 0 or not torch.isfinite(value2):
            raise StudentError(
                f"js_divergence is {value2.flatten()[0].item() if value2.numel() else value2} for densities that "
                "are zero somewhere: treat 0 * log 0 as 0, masking the terms where a density is 0 so that they add exactly 0."
            )
        ref2 = _ref_js(p2, q2, dx)
        if not is_close(value2, ref2, rtol=1e-3, atol=1e-3):
            raise StudentError(f"for disjoint supports the value is {value2.item():.4f}, expected log 2 = {ref2.item():.4f}.")

    return run_check("js_divergence", body, "correct: 0.5 KL(p || m) + 0.5 KL(q || m) with m = (p + q) / 2, in nats.")


_RING_K, _RING_RADIUS, _RING_STD = 8, 2.0, 0.1  # the ring of section 4
_MIN_SAMPLES = 1000  # below this the 2% rule of a covered mode counts too few samples to mean much
_COLLAPSED_MAX_MODES = 2  # a collapsed run reaches at most a quarter of the modes
_COVERING_MIN_MODES = 6  # a covering run reaches three quarters of the modes or more (a long run may starve one)
_CLOUD_SPREAD = 2.0  # the spread of the ring itself, sqrt(E|x - mean|^2): a collapsed run is far narrower


def _ring_centres() -> torch.Tensor:
    """The 8 centres of the ring, [8, 2]."""
    angles = 2 * math.pi * torch.arange(_RING_K) / _RING_K
    return _RING_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)


def _ring_stats(x: torch.Tensor) -> tuple[int, float, float]:
    """The lecture's mode_stats (modes covered, on-mode fraction) of samples [N, 2], and their spread."""
    dist, nearest = torch.cdist(x, _ring_centres()).min(dim=1)  # [N, 8] -> [N]
    on_mode = dist < 3 * _RING_STD
    counts = torch.bincount(nearest[on_mode], minlength=_RING_K)
    spread = (x - x.mean(dim=0)).pow(2).sum(dim=1).mean().sqrt().item()
    return int((counts >= 0.02 * len(x)).sum()), on_mode.float().mean().item(), spread


def _ring_samples(x: Any, which: str) -> torch.Tensor:
    """The samples of one run as a float tensor [N, 2] on the CPU, or a StudentError naming what is wrong."""
    x = require_tensor(x, f"the {which} samples")
    if x.dim() == 2 and x.shape[0] == 2 and x.shape[1] != 2:
        raise StudentError(
            f"the {which} samples have shape {list(x.shape)}, expected [N, 2]: they look transposed; one row per "
            "sample, holding its two coordinates."
        )
    if x.dim() != 2 or x.shape[1] != 2:
        raise StudentError(
            f"the {which} samples have shape {list(x.shape)}, expected [N, 2]: the generator's output on a batch of "
            "noise, one row per sample (its two coordinates)."
        )
    if x.shape[0] < _MIN_SAMPLES:
        raise StudentError(
            f"only {x.shape[0]} {which} samples: the coverage measure needs at least {_MIN_SAMPLES} (the lecture "
            "scores 5000, the generator's output on z_eval)."
        )
    x = x.detach().to("cpu", torch.float32)
    if not torch.isfinite(x).all():
        raise StudentError(f"the {which} samples contain NaN or inf: that run diverged; try a smaller learning rate.")
    return x


def check_collapse_and_cover(fn: Callable[..., Any], min_on_mode: float = 0.5) -> Verdict:
    """fn() trains two ring GANs and returns their samples (collapsed, covering), each [N, 2]; judged by mode coverage."""
    found: dict[str, Any] = {}

    def body() -> None:
        out = call(fn)
        require_values(out, 2, "return two tensors of samples, (collapsed, covering), in that order; got {got}.")
        collapsed, covering = _ring_samples(out[0], "collapsed"), _ring_samples(out[1], "covering")
        if collapsed.shape == covering.shape and torch.equal(collapsed, covering):
            raise StudentError("the two runs returned the same samples: train two GANs with different settings, one for each outcome.")
        n_c, on_c, spread_c = _ring_stats(collapsed)
        n_v, on_v, spread_v = _ring_stats(covering)
        found.update(n_c=n_c, n_v=n_v, on_v=on_v)
        modes = f"of the {_RING_K} modes"
        is_collapsed = n_c <= _COLLAPSED_MAX_MODES and spread_c < _CLOUD_SPREAD
        is_covering = n_v >= _COVERING_MIN_MODES and on_v >= min_on_mode
        second_collapsed = n_v <= _COLLAPSED_MAX_MODES and spread_v < _CLOUD_SPREAD
        first_covers = n_c >= _COVERING_MIN_MODES and on_c >= min_on_mode
        if not (is_collapsed or is_covering) and second_collapsed and first_covers:
            raise StudentError(
                f"the two runs are swapped: the first reaches {n_c} {modes} and the second only {n_v}; return the "
                "collapsed run's samples first, then the covering run's."
            )
        if n_v < _COVERING_MIN_MODES:
            if on_v < 0.2 and spread_v >= 0.75 * _CLOUD_SPREAD:
                raise StudentError(
                    f"the covering run reaches {n_v} {modes}, and only {on_v:.0%} of its samples lie within 3 standard "
                    "deviations of a mode: a cloud spread over the plane, not a generator that has learnt the ring."
                )
            if n_v <= _COLLAPSED_MAX_MODES and is_collapsed:
                raise StudentError(
                    f"both runs collapsed (the covering run reaches {n_v} {modes}, the collapsed one {n_c}): the covering "
                    "run needs a discriminator that keeps up with the generator, or one that sees the whole batch (section 5)."
                )
            raise StudentError(
                f"the covering run reaches only {n_v} {modes}, at least {_COVERING_MIN_MODES} needed: a mode counts "
                "when at least 2% of the samples lie within 3 standard deviations of its centre."
            )
        if on_v < min_on_mode:
            raise StudentError(
                f"the covering run reaches {n_v} {modes} but only {on_v:.0%} of its samples lie within 3 standard "
                f"deviations of a mode (at least {min_on_mode:.0%} needed): a blurry cloud that smears its samples "
                "between the modes; the generator must also settle on them."
            )
        if n_c > _COLLAPSED_MAX_MODES:
            if n_c >= _COVERING_MIN_MODES:
                raise StudentError(
                    f"both runs cover the ring (the collapsed run reaches {n_c} {modes}): the collapse was not provoked; "
                    "make the generator outrun its discriminator."
                )
            raise StudentError(
                f"the collapsed run still reaches {n_c} {modes}, at most {_COLLAPSED_MAX_MODES} allowed: push it further towards collapse."
            )
        if spread_c >= _CLOUD_SPREAD:
            raise StudentError(
                f"the collapsed run's samples are spread as widely as the ring itself (spread {spread_c:.2f}, the data's "
                f"{_CLOUD_SPREAD:.1f}): a collapsed generator bunches its samples in a small region; this one is a cloud "
                "or a run that diverged."
            )

    def success() -> str:
        return (
            f"correct: the collapsed run reaches {found['n_c']} of {_RING_K} modes, the covering run {found['n_v']} "
            f"with {found['on_v']:.0%} of its samples on a mode."
        )

    return run_check("collapse_and_cover", body, success)


class _LinearCritic(nn.Module):
    """f(x) = w . flatten(x) + b: its gradient is w everywhere, so the penalty is (|w| - 1)^2 exactly."""

    def __init__(self, shape: tuple[int, ...], norm: float) -> None:
        """A fixed weight of the given norm over inputs of the given per-sample shape."""
        super().__init__()
        d = math.prod(shape)
        w = torch.randn(d, generator=torch.Generator().manual_seed(3))
        self.linear = nn.Linear(d, 1)
        with torch.no_grad():
            self.linear.weight.copy_((w / w.norm() * norm).unsqueeze(0))
            self.linear.bias.fill_(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [B, 1] for inputs [B, ...]."""
        return self.linear(x.flatten(1))  # [B, ...] -> [B, d_x] -> [B, 1]


class _QuadraticCritic(nn.Module):
    """f(x) = |x|^2 / 2 per sample: its gradient at x_interp is x_interp itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [B, 1] for inputs [B, ...]."""
        return 0.5 * x.flatten(1).pow(2).sum(dim=1, keepdim=True)  # [B, ...] -> [B, 1]


def _penalty(fn: Callable[..., Any], critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, seed: int) -> torch.Tensor:
    """Call the student's penalty with a fixed global seed (run_check puts the caller's random state back)."""
    torch.manual_seed(seed)
    try:
        value = call(fn, critic, real, fake)
    except RuntimeError as err:
        if "does not require grad" in str(err):
            raise StudentError(
                "torch.autograd.grad failed because x_interp does not require gradients: mark the interpolates as "
                "requiring gradients before they go into the critic."
            ) from None
        raise
    return require_scalar(value, "gradient_penalty(critic, real, fake)")


def check_gradient_penalty(fn: Callable[..., Any]) -> Verdict:
    """fn(critic, real, fake) is mean over samples of (|grad critic(x_interp)| - 1)^2 at random interpolates x_interp."""

    def body() -> None:
        shape = (1, 4, 4)  # image-like samples: the norm must run over all non-batch dimensions
        g = torch.Generator().manual_seed(0)
        real, fake = torch.rand(64, *shape, generator=g), torch.rand(64, *shape, generator=g)
        critic = _LinearCritic(shape, norm=3.0)
        value = _penalty(fn, critic, real, fake, seed=0)
        expected = torch.tensor(4.0)  # (|w| - 1)^2 with |w| = 3, whatever the interpolation
        if not is_close(value, expected, rtol=1e-3):
            wrong = {
                "the square is missing: penalise (norm - 1) ** 2, not (norm - 1)": 2.0,
                "this includes the weight lambda_GP = 10: return the penalty alone, the training loop multiplies by lambda_GP": 40.0,
                "the squared gradient norm is used: penalise the distance of the norm itself from 1, not of its square": 64.0,
            }
            name_mistake(value, wrong, rtol=1e-3)
            raise StudentError(
                f"for a linear critic whose gradient has norm 3 everywhere the penalty is {value.item():.4g}, expected "
                "(3 - 1)^2 = 4: take one gradient norm per sample, over all its non-batch dimensions together (not per "
                "row, nor one for the whole batch), then average the penalties over the samples."
            )
        if value.grad_fn is None:
            raise StudentError(
                "the penalty is not connected to the critic's weights, so it cannot train the critic: the gradient "
                "itself must be differentiable (see the create_graph option of torch.autograd.grad)."
            )
        critic.zero_grad()
        value.backward()
        w = critic.linear.weight
        if w.grad is None or not is_close(w.grad, w.detach() * 4.0 / 3.0, rtol=1e-3, atol=1e-5):
            raise StudentError(
                "backpropagating the penalty does not give the right gradient for the critic's weights: the gradient "
                "must stay differentiable (the create_graph option of torch.autograd.grad) and must not be detached."
            )
        # Where is the gradient taken? For f = |x|^2 / 2 the gradient at x_interp is x_interp. With real = 2v and
        # fake = -2v (v a unit vector per sample) and u ~ U[0, 1] per sample, |x_interp| = 2|2u - 1| and the
        # penalty averages to E[(2u - 1)^2] = 1/3.
        v = torch.randn(8192, *shape, generator=g)
        v = v / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)  # [B, 1, 4, 4], unit norm per sample
        values = [_penalty(fn, _QuadraticCritic(), 2 * v, -2 * v, seed=s).item() for s in (1, 2, 3)]
        if all(abs(v - 1.0) < 1e-3 for v in values):
            raise StudentError(
                "the gradient is taken at the real (or fake) samples themselves: take it at random interpolates, points on "
                "the line between each real and its fake sample, with a uniform mixing weight u drawn per sample."
            )
        if max(values) - min(values) > 0.05:
            raise StudentError(
                f"the penalty jumps between calls ({', '.join(f'{v:.3f}' for v in values)}): draw one u per sample "
                "(with singleton dimensions that broadcast over the rest of the sample), not one for the whole batch."
            )
        mean = sum(values) / len(values)
        if abs(mean - 1 / 3) > 0.03:
            per_pixel = " Draw u per sample, shape [B, 1, 1, 1], not per pixel." if mean < 0.15 else ""
            raise StudentError(
                f"at random interpolates of a test critic the penalty averages {mean:.3f}, expected about 0.333: the "
                f"interpolates must mix each real and its fake sample with a weight u ~ U[0, 1], one u per sample.{per_pixel}"
            )

    return run_check("gradient_penalty", body, "correct: mean (|grad critic(x_interp)| - 1)^2 at random interpolates, differentiable.")
