"""Checks for the exercises of lab 2 (a variational autoencoder on MNIST).

    from utils.checks import vae_lab
    vae_lab.check_encoder(Encoder)
    vae_lab.check_reparameterise(reparameterise)
    vae_lab.check_decoder(Decoder)
    vae_lab.check_vae_loss(vae_loss)
    vae_lab.check_train_step(train_step)
    vae_lab.check_widen(widen)

Each check builds its own inputs (small sizes, local generators with fixed seeds), compares the student's
answer with a reference computed here, and names the usual mistakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from utils.checks.core import (
    StudentError,
    Verdict,
    call,
    is_close,
    reparameterisation_mistake,
    require_param_grads,
    require_saveable,
    require_scalar,
    require_shape,
    require_tensor,
    run_check,
)
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

X_DIM = 784
LAB_SIZE = (20, 512, X_DIM)  # the decoder the lab trains: Decoder(z_dim, hidden, x_dim)
DECODER_BUDGET = 1_500_000  # the contract of exercise 3: at most this many parameters at LAB_SIZE


def _images(n: int, seed: int) -> torch.Tensor:
    """n images [n, 1, 28, 28] with grey values in [0, 1], like MNIST pixels."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g)


def _build(cls: Any, *args: int) -> nn.Module:
    """Instantiate the student's module class, insisting that it is an nn.Module."""
    module = call(cls, *args)
    if not isinstance(module, nn.Module):
        raise StudentError(f"{getattr(cls, '__name__', 'the class')}(...) should build an nn.Module, got {type(module).__name__}.")
    if not any(True for _ in module.parameters()):
        raise StudentError("the module has no parameters: create its nn.Linear layers in __init__ (as attributes).")
    return module


def _is_affine(f: Callable[[torch.Tensor], torch.Tensor], a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when f behaves like an affine map on these inputs: f((a+b)/2) == (f(a)+f(b))/2."""
    with torch.no_grad():
        mid = f((a + b) / 2)
        return is_close(mid, (f(a) + f(b)) / 2, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------------
# Exercise: the encoder q(z|x) -> (mu, logvar)
# --------------------------------------------------------------------------------------------------


def _encode(encoder: nn.Module, x: torch.Tensor, z_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the student's encoder and validate that it returns (mu, logvar) of shape [B, z_dim]."""
    try:
        out = call(encoder, x)
    except RuntimeError as err:
        if "mat1 and mat2 shapes cannot be multiplied" in str(err) and f"x{x.shape[-1]} and {X_DIM}x" in str(err):
            raise StudentError(
                "a Linear layer got the images as they come, [B, 1, 28, 28], and multiplied their last dimension (28 "
                "pixels): flatten each image to a vector of 784 numbers first, before the first Linear layer."
            ) from None
        raise
    if isinstance(out, torch.Tensor):
        raise StudentError(
            f"the encoder returned one tensor of shape {list(out.shape)}: return two, mu and logvar "
            "(from two output layers, or one output of width 2 * z_dim split into halves)."
        )
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise StudentError("the encoder should return a pair (mu, logvar).")
    mu = require_tensor(out[0], "mu")
    logvar = require_tensor(out[1], "logvar")
    b = x.shape[0]
    require_shape(mu, (b, z_dim), "mu")
    require_shape(logvar, (b, z_dim), "logvar")
    return mu, logvar


def check_encoder(Encoder: Any) -> Verdict:  # noqa: N803 (the student's class)
    """Check Encoder(x_dim, hidden, z_dim): images [B, 1, 28, 28] -> (mu [B, z_dim], logvar [B, z_dim])."""

    def body() -> None:
        z_dim, b = 5, 32
        encoder = _build(Encoder, X_DIM, 64, z_dim)
        x = _images(b, 1)
        mu, logvar = _encode(encoder, x, z_dim)
        if mu.data_ptr() == logvar.data_ptr() or is_close(mu, logvar):
            raise StudentError("mu and logvar are equal: they need separate outputs (two heads, or one 2*z_dim output split in halves).")
        if is_close(mu[0], mu[1]) and is_close(logvar[0], logvar[1]):
            raise StudentError("every image gets the same (mu, logvar): does the encoder use its input x?")
        if (logvar >= 0).all():
            raise StudentError(
                "every logvar is >= 0: logvar is a log-variance and must be free to go negative; do not end with a ReLU, softplus or exp."
            )
        if (mu >= 0).all():
            raise StudentError("every mu is >= 0: mu must be free to take any sign; the last layer should be linear (no ReLU).")
        x2 = _images(b, 2)
        if _is_affine(lambda t: torch.cat(_encode(encoder, t, z_dim), dim=1), x, x2):
            raise StudentError("the encoder is linear in x: add a hidden layer with a nonlinearity (nn.ReLU) before the output.")
        encoder.zero_grad()
        (mu.sum() + logvar.sum()).backward()
        require_param_grads(encoder, "the encoder")
        require_saveable(encoder, x, "the encoder")

    return run_check("encoder", body, "returns mu and logvar of shape [B, z_dim] from a nonlinear network.")


# --------------------------------------------------------------------------------------------------
# Exercise: the reparameterisation trick
# --------------------------------------------------------------------------------------------------


def _reparam_inputs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """mu and logvar [n, 3] whose columns have different means and spreads, requiring grad."""
    mu = torch.tensor([[1.5, -2.0, 0.0]]).repeat(n, 1).requires_grad_()
    logvar = torch.tensor([[-2.0, 0.0, 1.0]]).repeat(n, 1).requires_grad_()  # std 0.37, 1.0, 1.65
    return mu, logvar


def _require_reparam_stats(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Stop unless z has the right sample mean and standard deviation per column (for noise drawn another way)."""
    mean, std = z.mean(0), z.std(0)
    mu0, lv0 = mu[0], logvar[0]
    if is_close(z, z[:1].expand_as(z), atol=1e-6):
        raise StudentError("every row of z is the same: draw one eps per element of mu (noise with the shape of mu), not one for all rows.")
    sigma0 = (0.5 * lv0).exp()
    if is_close(mean, mu0 + 0.5 * sigma0, rtol=0, atol=0.08):
        raise StudentError("eps should be standard normal (torch.randn_like), not uniform (torch.rand_like).")
    if not is_close(mean, mu0, rtol=0, atol=0.08):
        raise StudentError(f"the sample mean of z is {[round(v, 2) for v in mean.tolist()]}, expected mu = {mu0.tolist()}.")
    if is_close(std, lv0.abs(), rtol=0.06, atol=0.03):
        raise StudentError("you used logvar as the standard deviation: logvar is log sigma^2, the log of the variance.")
    if is_close(std, lv0.exp(), rtol=0.06, atol=0.03):
        raise StudentError(
            "you multiplied the noise by the variance exp(logvar): the noise is scaled by the standard deviation, the "
            "square root of the variance."
        )
    if not is_close(std, sigma0, rtol=0.06, atol=0.03):
        raise StudentError(
            f"the sample standard deviation of z is {[round(v, 2) for v in std.tolist()]}, "
            f"expected sigma = {[round(v, 2) for v in sigma0.tolist()]} for these log-variances."
        )


def check_reparameterise(reparameterise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Verdict:
    """Check reparameterise(mu, logvar) -> z = mu + exp(0.5 * logvar) * eps with fresh eps ~ N(0, I)."""

    def body() -> None:
        n = 20_000
        mu, logvar = _reparam_inputs(n)
        state = torch.get_rng_state()  # replay the student's draw; run_check puts the notebook's state back
        z = require_tensor(call(reparameterise, mu, logvar), "z")
        torch.set_rng_state(state)
        eps = torch.randn_like(mu)
        require_shape(z, (n, 3), "z")
        z_d = z.detach().double()
        ref = (mu + (0.5 * logvar).exp() * eps).detach()
        if not is_close(z_d, ref, rtol=1e-4, atol=1e-5):
            mistake = reparameterisation_mistake(z_d, mu.detach(), logvar.detach(), eps)
            if mistake is not None:
                raise StudentError(mistake)
            _require_reparam_stats(z_d, mu.detach(), logvar.detach())  # the noise was drawn another way: judge its distribution
        z2 = call(reparameterise, mu, logvar)
        if is_close(z2, z):
            raise StudentError(
                "two calls give the same z: draw new noise eps inside the function on every call (no fixed seed, no stored noise)."
            )
        if not z.requires_grad:
            raise StudentError(
                "z is detached from mu and logvar, so no gradient reaches the encoder: build z with torch operations "
                "(no .detach(), .item(), numpy, torch.normal or torch.no_grad())."
            )
        grads = torch.autograd.grad(z[:8].sum(), [mu, logvar], allow_unused=True)
        if grads[0] is None or not is_close(grads[0][:8], torch.ones(8, 3)):
            raise StudentError("dz/dmu should be 1 everywhere: is mu detached somewhere?")
        if grads[1] is None:
            raise StudentError("no gradient reaches logvar: is sigma detached from logvar?")
        expected = 0.5 * (z[:8] - mu[:8]).detach()  # d/dlogvar of mu + exp(0.5 logvar) eps = 0.5 * sigma * eps
        if not is_close(grads[1][:8], expected, rtol=1e-3, atol=1e-5):
            raise StudentError(
                "dz/dlogvar should be 0.5 * sigma * eps: is sigma computed from logvar with torch operations, without a detach?"
            )

    return run_check("reparameterise", body, "z = mu + exp(0.5 * logvar) * eps with fresh noise, and gradients reach mu and logvar.")


# --------------------------------------------------------------------------------------------------
# Exercise: the decoder p(x|z) -> Bernoulli logits
# --------------------------------------------------------------------------------------------------


def check_decoder(Decoder: Any, max_params: int = DECODER_BUDGET) -> Verdict:  # noqa: N803 (the student's class)
    """Check the contract of Decoder(z_dim, hidden, x_dim): z [B, z_dim] -> logits [B, 1, 28, 28], within max_params."""
    n_params = []

    def body() -> None:
        n_params.append(sum(p.numel() for p in _build(Decoder, *LAB_SIZE).parameters() if p.requires_grad))
        if n_params[0] > max_params:
            raise StudentError(
                f"Decoder{LAB_SIZE} has {n_params[0]:,} parameters, over the budget of {max_params:,}: "
                "training time grows with the size; use fewer or narrower layers."
            )
        z_dim, b = 5, 32
        decoder = _build(Decoder, z_dim, 64, X_DIM)
        g = torch.Generator().manual_seed(3)
        z = torch.randn(b, z_dim, generator=g)
        logits = require_tensor(call(decoder, z), "the decoder's output")
        if tuple(logits.shape) == (b, X_DIM):
            raise StudentError(f"the output has shape {[b, X_DIM]}: reshape it to images [B, 1, 28, 28], one 28x28 image per z.")
        require_shape(logits, (b, 1, 28, 28), "the decoder's output")
        if is_close(logits[0], logits[1]):
            raise StudentError("every z gives the same image: does the decoder use its input z?")
        if logits.min() >= 0 and logits.max() <= 1:
            raise StudentError(
                "all outputs lie in [0, 1]: it looks like you applied a sigmoid. Return logits (no sigmoid): the loss "
                "uses binary_cross_entropy_with_logits, which applies the sigmoid itself; applying it twice is a classic bug."
            )
        if logits.min() >= 0:
            raise StudentError("all outputs are >= 0: the last layer must be linear (logits can be negative); remove the final ReLU.")
        z2 = torch.randn(b, z_dim, generator=g)
        if _is_affine(decoder, z, z2):
            raise StudentError("the decoder is linear in z: add a hidden layer with a nonlinearity (nn.ReLU) before the output.")
        decoder.zero_grad()
        logits.sum().backward()
        require_param_grads(decoder, "the decoder")
        require_saveable(decoder, z, "the decoder")

    def success() -> str:
        """The pass message, with the parameter count."""
        return (
            f"keeps the contract: z [B, z_dim] -> logits [B, 1, 28, 28], nonlinear, {n_params[0]:,} parameters at the "
            f"lab's size (budget {max_params:,})."
        )

    return run_check("decoder", body, success)


# --------------------------------------------------------------------------------------------------
# Exercise: the negative ELBO
# --------------------------------------------------------------------------------------------------


def _loss_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """x_logits [4, 1, 28, 28], x in [0, 1], mu and logvar [4, 3], all float64, the first three requiring grad."""
    g = torch.Generator().manual_seed(seed)
    x_logits = (2 * torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)).requires_grad_()
    x = torch.rand(4, 1, 28, 28, generator=g, dtype=torch.float64)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_()
    logvar = (torch.randn(4, 3, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    return x_logits, x, mu, logvar


def _reference_vae_loss(
    x_logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, recon, kl): Bernoulli NLL and KL(q || N(0, I)), each summed per image and averaged over the batch."""
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / b
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / b
    return recon + beta * kl, recon, kl


def _reject_recon(recon: torch.Tensor, x_logits: torch.Tensor, x: torch.Tensor) -> NoReturn:
    """Stop with the known mistake behind a wrong reconstruction term, or else with the expected value."""
    b = x.shape[0]
    ref = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / b
    p = torch.sigmoid(x_logits)
    candidates = {
        "the reconstruction term is averaged over pixels: sum it over the 784 pixels of each image, then average over the batch.": ref
        / X_DIM,
        "the reconstruction term is summed over the batch: divide the sum by the batch size (average over images).": ref * b,
        "the reconstruction term has the wrong sign: it is a negative log-likelihood, so it is >= 0.": -ref,
        "you applied the sigmoid twice: binary_cross_entropy_with_logits takes the logits and applies the sigmoid "
        "itself, so a sigmoid before it is one too many.": (F.binary_cross_entropy_with_logits(p, x, reduction="sum") / b),
        "the arguments of the BCE are swapped: the prediction (the logits) comes first, the target x second.": (
            F.binary_cross_entropy_with_logits(x, x_logits, reduction="sum") / b
        ),
        "you used a squared error: for pixels in [0, 1] with a Bernoulli decoder the reconstruction term is the binary cross-entropy.": (
            (p - x) ** 2
        ).sum()
        / b,
        "you used a squared error on the logits: apply the binary cross-entropy with logits.": ((x_logits - x) ** 2).sum() / b,
    }
    for message, candidate in candidates.items():
        if is_close(recon, candidate.detach()):
            raise StudentError(message)
    raise StudentError(
        f"the reconstruction term is {recon.item():.6g}, expected {ref.item():.6g} (BCE summed per image, averaged over the batch)."
    )


def _reject_kl(kl: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> NoReturn:
    """Stop with the known mistake behind a wrong KL term, or else with the expected value."""
    b, d = mu.shape
    per_elem = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    ref = per_elem.sum() / b
    sd = logvar  # logvar used as the standard deviation
    candidates = {
        "the KL term is 0: add the closed-form KL(q(z|x) || N(0, I)) from the lecture.": torch.zeros(()),
        "the KL term has the wrong sign: a KL is >= 0, and the closed form has a factor -0.5 in front of its sum.": -ref,
        "the KL term is averaged over the latent dimensions: sum over them, then average over the batch.": ref / d,
        "the KL term is summed over the batch: divide by the batch size (average over images).": ref * b,
        "the KL term is missing its factor 0.5.": 2 * ref,
        "you used logvar as the standard deviation in the KL: sigma^2 = exp(logvar).": (
            0.5 * (mu.pow(2) + sd.pow(2) - torch.log(sd.pow(2)) - 1).sum() / b
        ),
        "the KL term treats exp(logvar) as the standard deviation: the variance is exp(logvar), "
        "the standard deviation exp(0.5 * logvar).": -0.5 * (1 + 2 * logvar - mu.pow(2) - (2 * logvar).exp()).sum() / b,
        "the KL term is missing the mu^2 term (the cost of moving the mean away from 0).": (-0.5 * (1 + logvar - logvar.exp()).sum() / b),
        "the KL term is missing the constant 1 per latent dimension (the KL of the prior to itself must be 0).": (
            -0.5 * (logvar - mu.pow(2) - logvar.exp()).sum() / b
        ),
    }
    for message, candidate in candidates.items():
        if is_close(kl, candidate.detach()):
            raise StudentError(message)
    raise StudentError(
        f"the KL term is {kl.item():.6g}, expected {ref.item():.6g} (summed over latent dimensions, averaged over the batch)."
    )


def _call_loss(vae_loss: Callable[..., Any], *args: Any, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Call the student's vae_loss and validate that it returns three scalars (loss, recon, kl)."""
    try:
        out = call(vae_loss, *args, beta=beta)
    except (RuntimeError, ValueError) as err:
        if "between 0 and 1" in str(err):
            raise StudentError(
                "binary_cross_entropy got values outside [0, 1]: x_logits are logits, not probabilities, so use the "
                "with-logits version of the BCE."
            ) from None
        raise
    if isinstance(out, torch.Tensor):
        raise StudentError("vae_loss returned one tensor: return the three values (loss, recon, kl).")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise StudentError("vae_loss should return a tuple (loss, recon, kl).")
    loss = require_scalar(out[0], "loss")
    recon = require_scalar(out[1], "recon")
    kl = require_scalar(out[2], "kl")
    return loss, recon, kl


def check_vae_loss(vae_loss: Callable[..., Any]) -> Verdict:
    """Check vae_loss(x_logits, x, mu, logvar, beta) -> (loss, recon, kl), per-image sums averaged over the batch."""

    def body() -> None:
        x_logits, x, mu, logvar = _loss_inputs(0)
        loss, recon, kl = _call_loss(vae_loss, x_logits, x, mu, logvar, beta=1.0)
        ref_loss, ref_recon, ref_kl = (t.detach() for t in _reference_vae_loss(x_logits, x, mu, logvar))
        if not is_close(recon, ref_recon):
            if is_close(recon, ref_kl) and is_close(kl, ref_recon):
                raise StudentError("recon and kl are swapped: return (loss, recon, kl) in that order.")
            _reject_recon(recon.detach(), x_logits.detach(), x)
        if not is_close(kl, ref_kl):
            _reject_kl(kl.detach(), mu.detach(), logvar.detach())
        if not is_close(loss, ref_loss):
            if is_close(loss, ref_recon):
                raise StudentError("the loss is only the reconstruction term: the KL term, weighted by beta, is missing.")
            if is_close(loss, ref_recon - ref_kl):
                raise StudentError("the KL enters the loss with the wrong sign: the negative ELBO adds the beta-weighted KL.")
            if is_close(loss, -ref_loss):
                raise StudentError("you returned the ELBO; the loss to minimise is the negative ELBO, recon + beta * kl.")
            raise StudentError(
                f"loss is {loss.item():.6g}, expected {ref_loss.item():.6g} (the reconstruction term plus beta times the KL)."
            )
        loss4, _, _ = _call_loss(vae_loss, x_logits, x, mu, logvar, beta=4.0)
        if not is_close(loss4, ref_recon + 4.0 * ref_kl):
            if is_close(loss4, ref_loss):
                raise StudentError("beta is ignored: it weights the KL term in the loss.")
            raise StudentError(
                f"with beta = 4 the loss is {loss4.item():.6g}, expected {(ref_recon + 4 * ref_kl).item():.6g} (the KL weighted by 4)."
            )
        if not loss.requires_grad:
            raise StudentError("the loss is detached from the model's outputs: compute it with torch operations (no .item() or numpy).")
        grads = torch.autograd.grad(loss, [x_logits, mu, logvar], allow_unused=True)
        ref_grads = torch.autograd.grad(_reference_vae_loss(x_logits, x, mu, logvar)[0], [x_logits, mu, logvar])
        names = ("x_logits", "mu", "logvar")
        for name, grad, ref in zip(names, grads, ref_grads, strict=True):
            if grad is None or not is_close(grad, ref):
                raise StudentError(f"the value is right but the gradient w.r.t. {name} is not: is part of the loss detached?")

    return run_check("vae_loss", body, "recon (BCE) + beta * KL, summed per image and averaged over the batch.")


# --------------------------------------------------------------------------------------------------
# Exercise: one training step
# --------------------------------------------------------------------------------------------------


class _TinyVAE(nn.Module):
    """A small VAE with the lab's interface: forward(x) -> (x_logits, mu, logvar)."""

    def __init__(self, noise_seed: int, hidden: int = 16, z_dim: int = 4) -> None:
        """Linear-ReLU encoder and decoder with fixed weights, and a noise generator of their own."""
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(X_DIM, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, X_DIM))
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, nn.Linear):
                    bound = layer.in_features**-0.5
                    layer.weight.uniform_(-bound, bound, generator=g)
                    layer.bias.uniform_(-bound, bound, generator=g)
        self.noise = torch.Generator().manual_seed(noise_seed)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample z with the reparameterisation (noise from the model's own generator), decode to logits."""
        mu, logvar = self.enc(x).chunk(2, dim=1)
        eps = torch.randn(mu.shape, generator=self.noise, dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        return self.dec(z).view(-1, 1, 28, 28), mu, logvar


_STALE_GRAD = 0.3  # gradients left over from an earlier step, which zero_grad must clear


def _fresh(noise_seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A tiny VAE with fixed weights and noise, an SGD optimiser, and stale gradients on every parameter."""
    model = _TinyVAE(noise_seed)
    for p in model.parameters():
        p.grad = torch.full_like(p, _STALE_GRAD)
    return model, torch.optim.SGD(model.parameters(), lr=0.01)


def _reference_step(x: torch.Tensor, beta: float, seed: int, variant: str = "ok") -> tuple[nn.Module, torch.Tensor]:
    """Parameters after one reference step (or a known-wrong variant of it), and the loss before the step."""
    model, opt = _fresh(seed)
    if variant != "no_zero_grad":
        opt.zero_grad()
    x_logits, mu, logvar = model(x)
    loss, recon, kl = _reference_vae_loss(x_logits, x, mu, logvar, beta)
    target = {"ascent": -loss, "recon_only": recon, "kl_only": kl}.get(variant, loss)
    target.backward()
    opt.step()
    return model, loss.detach()


def _params(model: nn.Module) -> torch.Tensor:
    """All parameters of a model as one flat vector."""
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _student_step(train_step: Callable[..., Any], x: torch.Tensor, beta: float, seed: int) -> tuple[nn.Module, Any]:
    """Run the student's train_step on a fresh tiny VAE with the same noise as the reference."""
    model, opt = _fresh(seed)
    out = call(train_step, model, opt, x.clone(), beta)
    return model, out


def check_train_step(train_step: Callable[..., Any]) -> Verdict:
    """Check train_step(model, optimizer, x, beta) -> (loss, recon, kl): zero_grad, forward, loss, backward, step."""

    def body() -> None:
        x, seed = _images(8, 5), 11
        before = _params(_fresh(seed)[0])
        model, out = _student_step(train_step, x, 1.0, seed)
        ref_model, ref_loss = _reference_step(x, 1.0, seed)
        after, ref_after = _params(model), _params(ref_model)
        if not is_close(after, ref_after, rtol=1e-4, atol=1e-6):
            if is_close(after, before, rtol=0, atol=0):
                raise StudentError(
                    "the parameters did not change: backpropagate the loss, then take an optimizer step "
                    "(and zero the gradients before the backward pass, not between it and the step)."
                )
            for variant, message in (
                (
                    "no_zero_grad",
                    "the gradients were not zeroed before the backward pass: the previous step's gradients were added to this one.",
                ),
                ("ascent", "the parameters moved uphill: minimise the loss (the negative ELBO), do not maximise it."),
                ("recon_only", "you back-propagated only the reconstruction term: backpropagate the total loss."),
                ("kl_only", "you back-propagated only the KL term: backpropagate the total loss."),
            ):
                if is_close(after, _params(_reference_step(x, 1.0, seed, variant)[0]), rtol=1e-4, atol=1e-6):
                    raise StudentError(message)
            raise StudentError(
                "the parameters after one step differ from the expected ones: the step should zero the gradients, run the "
                "model once on x, compute vae_loss on its outputs with the beta you are given, backpropagate and step."
            )
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise StudentError("train_step should return the three values (loss, recon, kl) from vae_loss.")
        loss = out[0]
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            raise StudentError(
                "the returned loss is still attached to the graph: return it detached (or as a Python number), or every "
                "step's graph stays in memory."
            )
        if not is_close(torch.as_tensor(loss, dtype=torch.float64), ref_loss, rtol=1e-4, atol=1e-5):
            raise StudentError(f"the returned loss is {float(loss):.6g}, expected the loss before the step, {ref_loss.item():.6g}.")
        model4, _ = _student_step(train_step, x, 4.0, seed)
        if not is_close(_params(model4), _params(_reference_step(x, 4.0, seed)[0]), rtol=1e-4, atol=1e-6):
            if is_close(_params(model4), ref_after, rtol=1e-4, atol=1e-6):
                raise StudentError("train_step ignores beta: pass the beta you are given on to vae_loss.")
            raise StudentError("with beta = 4 the update differs from the expected one: pass beta on to vae_loss.")

    return run_check("train_step", body, "zero_grad, forward, loss, backward and step, returning the detached losses.")


# --------------------------------------------------------------------------------------------------
# Exercise: widening the mixture fitted to the codes
# --------------------------------------------------------------------------------------------------


def _small_mixture() -> MixtureSameFamily:
    """A 3-component mixture in 2 dimensions with unequal weights, distinct means and correlated covariances."""
    weights = torch.tensor([0.5, 0.3, 0.2])
    means = torch.tensor([[0.0, 0.0], [3.0, -1.0], [-2.0, 2.5]])
    covs = torch.tensor([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.2]], [[2.0, 0.8], [0.8, 1.0]]])
    return MixtureSameFamily(Categorical(weights), MultivariateNormal(means, covs))


def _parts(m: Any, what: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weights, means, covariances) of a MixtureSameFamily of MultivariateNormals, or a StudentError."""
    if not isinstance(m, MixtureSameFamily) or not isinstance(m.component_distribution, MultivariateNormal):
        raise StudentError(
            f"{what} should be a MixtureSameFamily of MultivariateNormal components, got {type(m).__name__}: build it "
            "like fit_mixture does."
        )
    comp = m.component_distribution
    return m.mixture_distribution.probs.detach(), comp.loc.detach(), comp.covariance_matrix.detach()


def check_widen(widen: Callable[[MixtureSameFamily, float], MixtureSameFamily]) -> Verdict:
    """Check widen(mixture, tau): same weights and means, covariances times tau**2, the original untouched."""

    def body() -> None:
        mixture = _small_mixture()
        weights, means, covs = (t.clone() for t in _parts(mixture, "the mixture"))
        for tau in (1.5, 0.5, 1.0):
            got_w, got_m, got_c = _parts(call(widen, mixture, tau), f"widen(mixture, {tau})")
            if not is_close(mixture.component_distribution.covariance_matrix, covs) or not is_close(
                mixture.component_distribution.loc, means
            ):
                raise StudentError("widen changed the mixture it was given: build a new MultivariateNormal instead of editing the old one.")
            require_shape(got_c, tuple(covs.shape), f"the covariances of widen(mixture, {tau})")
            if not is_close(got_w, weights):
                raise StudentError("the weights changed: widening keeps mixture.mixture_distribution as it is.")
            if not is_close(got_m, means):
                if is_close(got_m, tau * means):
                    raise StudentError("you scaled the means too: widening spreads each component about its mean, which stays put.")
                raise StudentError("the means changed: widening keeps each component's loc.")
            if is_close(got_c, tau**2 * covs):
                continue
            if tau != 1.0 and is_close(got_c, covs):
                raise StudentError(f"widen(mixture, {tau}) returns the covariances unchanged: scale them by the width.")
            if is_close(got_c, tau * covs):
                raise StudentError(
                    "the covariances are scaled by tau: tau multiplies a standard deviation, and a covariance is in squared "
                    "units, so it scales by tau**2."
                )
            if is_close(got_c, tau**4 * covs):
                raise StudentError(
                    "the covariances are scaled by tau**4: scale the covariance matrix by tau**2 (or scale_tril by tau), not both."
                )
            raise StudentError(f"the covariances of widen(mixture, {tau}) should be tau**2 times the mixture's.")
        # the spread of samples: the mixture's covariance, sum_k pi_k (tau^2 Sigma_k + m_k m_k^T) - m m^T, at tau = 2
        m_bar = weights @ means  # [2]
        second = torch.einsum("k,kij->ij", weights, 4.0 * covs + means[:, :, None] * means[:, None, :])  # [2, 2]
        expected = (second - torch.outer(m_bar, m_bar)).diagonal().sqrt()  # [2]
        torch.manual_seed(0)  # run_check puts the notebook's random state back
        spread = call(widen, mixture, 2.0).sample((8000,)).std(0)  # [2]
        if not is_close(spread, expected, rtol=0.08, atol=0.0):
            raise StudentError(
                "samples of widen(mixture, 2.0) do not spread as its covariances say: sampling should draw from the new components."
            )

    return run_check("widen", body, "same weights and means, covariances times tau**2, the original mixture untouched.")
