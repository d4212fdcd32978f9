"""Checks for Lecture 5 (VAEs): the closed-form KL, the Bernoulli NLL, the beta that shuts the code down, vector quantisation."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from utils.checks.core import (
    StudentError,
    Verdict,
    call,
    is_close,
    name_mistake,
    require_close,
    require_shape,
    require_tensor,
    run_check,
)
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed


def _per_example(out: Any, ref: torch.Tensor, what: str, reductions: Sequence[tuple[str, str]], inner: int) -> torch.Tensor:
    """Stop unless out is a finite [B] tensor; name a batch-reduced or unreduced result (inner: summed dim size)."""
    out = require_tensor(out, what)
    b = ref.shape[0]
    if tuple(out.shape) == (inner,):
        raise StudentError(f"{what} has shape [{inner}], expected [{b}]: you reduced over the batch (dim 0); sum over dim 1 instead.")
    if out.dim() == 0:
        for name, hint in reductions:
            value = ref.sum() if name == "sum" else ref.mean()
            if is_close(out, value):
                raise StudentError(f"{what} is one number, the {hint}: return one value per example, shape [{b}].")
        raise StudentError(f"{what} is one number: return one value per example, shape [{b}].")
    if out.dim() == 2 and out.shape[0] == b:
        raise StudentError(f"{what} has shape {list(out.shape)}, expected [{b}]: sum over the last dimension (one value per example).")
    require_shape(out, (b,), what)
    if not torch.isfinite(out).all():
        raise StudentError(f"{what} contains NaN or inf for ordinary inputs.")
    return out.detach().to(torch.float64)


def _require_match(out: torch.Tensor, ref: torch.Tensor, what: str, wrong: dict[str, torch.Tensor]) -> None:
    """Stop unless out is close to ref, naming the first known mistake that reproduces out, or a flipped sign."""
    if is_close(out, ref):
        return
    name_mistake(out, wrong)
    if is_close(out, -ref):
        raise StudentError(f"{what} has the wrong sign: it is a non-negative quantity (a KL or a negative log-likelihood).")
    require_close(out, ref, what)


# --------------------------------------------------------------------------------------------------
# Exercise: the closed-form KL(N(mu, diag sigma^2) || N(0, I))
# --------------------------------------------------------------------------------------------------


def _ref_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Reference KL to N(0, I), summed over the latent dimensions: [B, d] -> [B]."""
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=1)


def _kl_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Five encoder outputs with four latent dimensions; some log-variances are negative, as in a trained VAE."""
    g = torch.Generator().manual_seed(5)
    mu = torch.randn(5, 4, generator=g, dtype=torch.float64)
    logvar = 2.5 * torch.rand(5, 4, generator=g, dtype=torch.float64) - 1.8  # in [-1.8, 0.7]
    mu[0], logvar[0] = 0.0, 0.0  # the first example is exactly the prior: its KL must be 0
    return mu, logvar


def check_gaussian_kl_to_standard(fn: Callable[..., Any]) -> Verdict:
    """fn(mu [B, d], logvar [B, d]) is KL(N(mu, diag exp(logvar)) || N(0, I)) per example, shape [B]."""

    def body() -> None:
        mu, logvar = _kl_inputs()
        ref = _ref_kl(mu, logvar)
        raw = require_tensor(call(fn, mu.clone(), logvar.clone()), "the KL")
        if raw.shape == ref.shape and torch.isnan(raw).any():
            raise StudentError(
                "the KL is NaN for negative log-variances: did you take the log of logvar? logvar already is "
                "log sigma^2; the variance is exp(logvar)."
            )
        kl = _per_example(raw, ref, "the KL", [("sum", "sum over the batch"), ("mean", "mean over the batch")], mu.shape[1])
        var, d = logvar.exp(), mu.shape[1]
        wrong = {
            "the KL is twice too large: the factor 1/2 in front of the sum is missing": 2 * ref,
            "the KL is averaged over the latent dimensions: the KL of independent dimensions is their sum": ref / d,
            "you used logvar where the variance belongs: the variance is exp(logvar)": 0.5 * (mu**2 - 1).sum(1),
            "you treated logvar as log sigma (the log standard deviation): it is log sigma^2, so the variance is "
            "exp(logvar), not exp(2 * logvar)": 0.5 * (mu**2 + (2 * logvar).exp() - 2 * logvar - 1).sum(1),
            "the mean term mu^2 is missing": 0.5 * (var - logvar - 1).sum(1),
            "the -logvar term is missing (it is -log sigma^2)": 0.5 * (mu**2 + var - 1).sum(1),
            "the sign of the logvar term is flipped: it is -log sigma^2": 0.5 * (mu**2 + var + logvar - 1).sum(1),
            "the constant -1 per latent dimension is missing (the KL of the prior to itself must be 0)": (
                0.5 * (mu**2 + var - logvar).sum(1)
            ),
            "the constant should be -1 per latent dimension, not +1": 0.5 * (mu**2 + var - logvar + 1).sum(1),
        }
        _require_match(kl, ref, "the KL", wrong)

    return run_check("gaussian_kl_to_standard", body, "correct: 0.5 * sum(mu^2 + exp(logvar) - logvar - 1) per example.")


# --------------------------------------------------------------------------------------------------
# Exercise: the Bernoulli reconstruction term -log p(x | z) from decoder logits
# --------------------------------------------------------------------------------------------------


def _ref_bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reference Bernoulli negative log-likelihood per example, summed over pixels: [B, P] -> [B]."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)


def _nll_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Four 'images' of 784 pixels: moderate logits and targets that mix exact 0/1 with grey values."""
    g = torch.Generator().manual_seed(55)
    logits = 3.0 * torch.randn(4, 784, generator=g, dtype=torch.float64)
    x = torch.rand(4, 784, generator=g, dtype=torch.float64)
    x[:2] = (x[:2] > 0.5).to(torch.float64)  # two binary images, two grey ones
    return logits, x


def check_bernoulli_nll(fn: Callable[..., Any]) -> Verdict:
    """fn(logits [B, P], x [B, P]) is -log p(x | z) per example summed over pixels, shape [B], computed stably."""

    def body() -> None:
        logits, x = _nll_inputs()
        ref = _ref_bernoulli_nll(logits, x)
        out = call(fn, logits.clone(), x.clone())
        nll = _per_example(
            out,
            ref,
            "the NLL",
            [("sum", "sum over the whole batch"), ("mean", "mean over the batch")],
            x.shape[1],
        )
        if not is_close(nll, ref):
            p = torch.sigmoid(logits)
            d = x.shape[1]
            all_mean = F.binary_cross_entropy_with_logits(logits, x)
            if is_close(nll.mean(), all_mean) or is_close(nll, ref / d):
                raise StudentError(
                    "the NLL is averaged over the pixels (reduction='mean'): sum over the 784 pixels. The log-likelihood "
                    "of an image is the sum over its independent pixels; a mean gives the KL term 784 times too much weight."
                )
            wrong = {
                "you applied the sigmoid twice: fn receives logits; binary_cross_entropy_with_logits applies it once": (
                    F.binary_cross_entropy(torch.sigmoid(p), x, reduction="none").sum(1)
                ),
                "the (1 - x) * log(1 - p) term is missing": -(x * F.logsigmoid(logits)).sum(1),
                "the x * log p term is missing": -((1 - x) * F.logsigmoid(-logits)).sum(1),
                "that is a squared error (a Gaussian decoder): this exercise asks for the "
                "Bernoulli negative log-likelihood (binary cross-entropy)": ((p - x) ** 2).sum(1),
                "the arguments are swapped: the predictions are the logits, the targets are x": (
                    F.binary_cross_entropy_with_logits(x, p, reduction="none").sum(1)
                ),
            }
            _require_match(nll, ref, "the NLL", wrong)
        # Very confident wrong predictions: sigmoid underflows to 0 in float32 and log(0) = -inf.
        big = torch.tensor([[150.0, -150.0, 30.0, -30.0]], dtype=torch.float32).repeat(2, 1)  # [2, 4]
        xb = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
        out_big = require_tensor(call(fn, big, xb), "the NLL for large logits")
        if not torch.isfinite(out_big).all():
            raise StudentError(
                "the NLL is inf or NaN for large logits (|logit| = 150): sigmoid underflows to 0 and log(0) = -inf. "
                "Work with the logits: F.binary_cross_entropy_with_logits, or F.logsigmoid."
            )

    return run_check("bernoulli_nll", body, "correct: binary cross-entropy from logits, summed over pixels, one value per image.")


# --------------------------------------------------------------------------------------------------
# Exercise: vector quantisation with the straight-through estimator
# --------------------------------------------------------------------------------------------------


def _vq_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Twelve encoder outputs, a codebook of five vectors of different lengths, and an upstream gradient."""
    g = torch.Generator().manual_seed(7)
    z_e = torch.randn(12, 3, generator=g, dtype=torch.float64)
    codebook = torch.randn(5, 3, generator=g, dtype=torch.float64) * torch.tensor([[0.3], [2.5], [1.0], [0.6], [1.8]], dtype=torch.float64)
    upstream = torch.randn(12, 3, generator=g, dtype=torch.float64)
    return z_e, codebook, upstream


def _require_nearest(idx: torch.Tensor, z_e: torch.Tensor, codebook: torch.Tensor) -> None:
    """Stop unless idx are the nearest codebook vectors' indices, explaining the usual wrong choices."""
    dist = torch.cdist(z_e, codebook)
    if torch.equal(idx, dist.argmin(dim=1)):
        return
    if torch.equal(idx, dist.argmax(dim=1)):
        raise StudentError("you picked the farthest codebook vector (argmax): the nearest one has the smallest distance (argmin).")
    if torch.equal(idx, (z_e @ codebook.T).argmax(dim=1)):
        raise StudentError(
            "you picked the codebook vector with the largest dot product: nearest means the smallest Euclidean "
            "distance, and the codebook vectors here have different lengths."
        )
    raise StudentError("some indices are not those of the nearest codebook vector (smallest Euclidean distance).")


def check_vector_quantize(fn: Callable[..., Any]) -> Verdict:
    """fn(z_e [N, d], codebook [K, d]) is (z_q [N, d] with straight-through gradients, indices [N])."""

    def body() -> None:
        z_e0, codebook0, upstream = _vq_inputs()
        n, d = z_e0.shape
        z_e = z_e0.clone().requires_grad_(True)
        codebook = codebook0.clone().requires_grad_(True)
        out = call(fn, z_e, codebook)
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise StudentError("return a pair (z_q, indices).")
        z_q, idx = out
        z_q = require_tensor(z_q, "z_q")
        idx = require_tensor(idx, "indices")
        require_shape(z_q, (n, d), "z_q")
        if idx.dtype not in (torch.int64, torch.int32):
            raise StudentError(f"indices should be integers (torch.long, from argmin), got {idx.dtype}.")
        require_shape(idx, (n,), "indices")
        _require_nearest(idx.cpu().long(), z_e0, codebook0)
        ref_idx = torch.cdist(z_e0, codebook0).argmin(dim=1)
        if is_close(z_q, z_e0):
            raise StudentError("z_q equals z_e: the forward value must be the quantised vector codebook[indices].")
        if not is_close(z_q, codebook0[ref_idx]):
            raise StudentError("z_q is not codebook[indices]: in the forward pass z_q must equal the chosen codebook vectors.")
        if not z_q.requires_grad:
            raise StudentError(
                "z_q carries no gradient at all: with the straight-through estimator the decoder's gradient must still "
                "reach the encoder output z_e."
            )
        g_e, g_c = torch.autograd.grad((z_q * upstream).sum(), [z_e, codebook], allow_unused=True)
        if g_e is None or is_close(g_e, torch.zeros_like(g_e)):
            raise StudentError(
                "no gradient reaches z_e: codebook[indices] is not differentiable with respect to the encoder "
                "output. Use the straight-through estimator: the value of the quantised vectors going forward, the "
                "gradient passed to z_e unchanged going backward."
            )
        if not is_close(g_e, upstream):
            raise StudentError(
                "the gradient reaching z_e is not the gradient of z_q copied through: with the straight-through "
                "estimator the encoder gets exactly dL/dz_q, with no scaling and no extra terms."
            )
        if g_c is not None and not is_close(g_c, torch.zeros_like(g_c)):
            raise StudentError(
                "the codebook also receives the decoder's gradient through z_q: in the straight-through output the "
                "quantised vectors must be detached; the codebook learns from its own loss term."
            )
        if not torch.equal(codebook.detach(), codebook0) or not torch.equal(z_e.detach(), z_e0):
            raise StudentError("your function changed its inputs in place: leave z_e and the codebook untouched.")

    return run_check("vector_quantize", body, "correct: nearest codebook vectors forward, gradients copied straight through to z_e.")


# --------------------------------------------------------------------------------------------------
# Exercise (experiment): the beta at which the code shuts down
# --------------------------------------------------------------------------------------------------

_ACTIVE_VAR = 0.01  # a latent dimension is active when the variance of its mean over the data exceeds this
_OFF_KL = 0.1  # nats: a code with no active unit and a KL below this carries (almost) nothing
_MAX_BRACKET = 2.0  # beta_off may be at most this many times beta_on


def _read_beta(value: Any, what: str) -> float:
    """A positive, finite Python number from a float, an int or a one-element tensor."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StudentError(f"{what} should be a number (the KL weight that model was trained with), got {type(value).__name__}.")
    if not math.isfinite(value) or value <= 0:
        raise StudentError(f"{what} is {value}: a KL weight beta is a positive number.")
    return float(value)


def _code_usage(model: Any, x: torch.Tensor, what: str) -> tuple[int, float]:
    """(active units, mean KL to N(0, I) in nats) of a VAE's encoder on the images x."""
    if not isinstance(model, torch.nn.Module) or not callable(getattr(model, "encode", None)):
        raise StudentError(f"{what} has no encode method: return the trained VAE itself (a SmallVAE), whose encode(x) gives (mu, logvar).")
    params = list(model.parameters())
    device = params[0].device if params else x.device
    with torch.no_grad():
        out = call(model.encode, x.to(device))
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise StudentError(f"{what}.encode(x) should return the pair (mu, logvar).")
    mu = require_tensor(out[0], f"{what}'s mu").detach().to("cpu", torch.float64)
    logvar = require_tensor(out[1], f"{what}'s logvar").detach().to("cpu", torch.float64)
    if mu.dim() != 2 or mu.shape[0] != len(x) or mu.shape != logvar.shape:
        raise StudentError(
            f"{what}.encode(x) gave shapes {list(mu.shape)} and {list(logvar.shape)}, expected [N, d] twice for N = {len(x)} images."
        )
    if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
        raise StudentError(f"{what} encodes the test digits to NaN or inf: that run diverged; retrain it.")
    return int((mu.var(dim=0) > _ACTIVE_VAR).sum()), _ref_kl(mu, logvar).mean().item()


def check_shutdown_beta(fn: Callable[..., Any], x_test: torch.Tensor) -> Verdict:
    """fn() -> (beta_on, model_on, beta_off, model_off): the code is in use at beta_on, shut down at beta_off <= 2 beta_on."""
    found: dict[str, Any] = {}

    def body() -> None:
        out = call(fn)
        if not isinstance(out, tuple | list) or len(out) != 4:
            got = f"{len(out)} values" if isinstance(out, tuple | list) else f"a {type(out).__name__}"
            raise StudentError(f"return four values, (beta_on, model_on, beta_off, model_off); got {got}.")
        beta_on, beta_off = _read_beta(out[0], "beta_on"), _read_beta(out[2], "beta_off")
        if out[1] is out[3]:
            raise StudentError("model_on and model_off are the same model: train one model for each beta.")
        x = require_tensor(x_test, "x_test")
        active_on, kl_on = _code_usage(out[1], x, "model_on")
        active_off, kl_off = _code_usage(out[3], x, "model_off")
        found.update(beta_on=beta_on, beta_off=beta_off, active_on=active_on, kl_on=kl_on, kl_off=kl_off)
        on = f"{active_on} active units, KL {kl_on:.3f} nats"
        off = f"{active_off} active units, KL {kl_off:.3f} nats"
        off_is_off = active_off == 0 and kl_off < _OFF_KL
        if active_on == 0 and active_off > 0 and beta_on > beta_off:
            raise StudentError(
                f"the two runs are swapped: the code is in use at beta = {beta_off:g} and shut down at beta = {beta_on:g}; "
                "return the smaller beta with its model first."
            )
        if beta_off <= beta_on:
            raise StudentError(f"beta_off = {beta_off:g} is not larger than beta_on = {beta_on:g}: the code shuts down as beta grows.")
        if active_on == 0:
            raise StudentError(
                f"the model at beta_on = {beta_on:g} has shut its code down as well ({on}): the threshold lies below "
                f"beta_on; look at smaller values of beta."
            )
        if not off_is_off:
            raise StudentError(
                f"the code of the model at beta_off = {beta_off:g} is still in use ({off}): shut down means no active "
                f"unit (variance of mu_l over the test digits at most {_ACTIVE_VAR}) and a KL under {_OFF_KL} nats; "
                "look at larger values of beta."
            )
        if beta_off > _MAX_BRACKET * beta_on:
            raise StudentError(
                f"the threshold lies between beta = {beta_on:g} and {beta_off:g}, a factor of {beta_off / beta_on:.3g}: "
                f"narrow it down to a factor of {_MAX_BRACKET:g} at most."
            )

    def success() -> str:
        return (
            f"correct: at beta = {found['beta_on']:g} the code is in use ({found['active_on']} active units, KL "
            f"{found['kl_on']:.3f} nats), at beta = {found['beta_off']:g} it is shut down (KL {found['kl_off']:.3f} nats)."
        )

    return run_check("shutdown_beta", body, success)
