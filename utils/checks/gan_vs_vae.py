"""Checks for the exercises of lab 3 (comparing the GAN of lab 1 with the VAE of lab 2).

    from utils.checks import gan_vs_vae
    gan_vs_vae.check_laplacian_variance(laplacian_variance)
    gan_vs_vae.check_invert_generator(invert_generator)

Each check builds its own inputs (fixed seeds), compares the student's answer with a reference
computed here, and names the usual mistakes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from utils.checks.core import StudentError, Verdict, call, is_close, require_shape, require_tensor, run_check
from utils.checks.core import require_passed as require_passed  # notebooks call checks.require_passed

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


_close = partial(is_close, atol=1e-6)  # this module compares with a tighter absolute tolerance

# --------------------------------------------------------------------------------------------------
# Exercise: sharpness as the variance of the Laplacian
# --------------------------------------------------------------------------------------------------


def _filtered(x: torch.Tensor, kernel: torch.Tensor = LAPLACIAN, padding: int = 0) -> torch.Tensor:
    """Images [N, 1, H, W] filtered by a 3x3 kernel: [N, 1, H-2, W-2] (or [N, 1, H, W] with padding=1)."""
    return F.conv2d(x, kernel.to(x).view(1, 1, 3, 3), padding=padding)


def _reference_laplacian_variance(x: torch.Tensor) -> torch.Tensor:
    """Per-image variance [N] of the 4-neighbour Laplacian response (valid convolution, population variance)."""
    return _filtered(x).flatten(1).var(dim=1, unbiased=False)


def _sharpness_images() -> torch.Tensor:
    """Six test images [6, 1, 28, 28]: random, blurred, a constant, a checkerboard, a bar, a dot near the border."""
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(2, 1, 28, 28, generator=g, dtype=torch.float64)
    blurred = F.avg_pool2d(noise[:1], 3, stride=1, padding=1)
    constant = torch.full((1, 1, 28, 28), 0.4, dtype=torch.float64)
    checker = ((torch.arange(28).view(-1, 1) + torch.arange(28).view(1, -1)) % 2).to(torch.float64).view(1, 1, 28, 28)
    bar = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    bar[..., 6:22, 12:16] = 1.0
    bar[..., 0, :] = 0.7  # ink on the border: zero padding would add edges here
    return torch.cat([noise, blurred, constant, checker, bar])


def _laplacian_mistake(v: torch.Tensor, x: torch.Tensor) -> None:
    """Stop with the known mistake behind a wrong per-image sharpness value."""
    lap = _filtered(x).flatten(1)
    eight = torch.tensor([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]])
    candidates = {
        "you returned the standard deviation of the Laplacian: return its variance (.var, not .std).": lap.std(dim=1, unbiased=False),
        "you returned the mean of the Laplacian response, which is near 0 for any image: return its variance.": lap.mean(dim=1),
        "you returned the mean absolute Laplacian: return its variance.": lap.abs().mean(dim=1),
        "you returned the mean squared Laplacian: subtract its mean first, i.e. take the variance.": lap.pow(2).mean(dim=1),
        "you took the variance of the image itself: filter it with the Laplacian kernel first (with F.conv2d).": x.flatten(1).var(
            dim=1, unbiased=False
        ),
        "you used the 8-neighbour Laplacian: the exercise's kernel compares each pixel with its 4 neighbours only.": _filtered(x, eight)
        .flatten(1)
        .var(dim=1, unbiased=False),
    }
    for message, candidate in candidates.items():
        if _close(v, candidate, rtol=3e-3) or _close(v, candidate.sqrt(), rtol=3e-3):  # either variance correction
            raise StudentError(message)
    padded = _filtered(x, padding=1).flatten(1)
    if any(_close(v, padded.var(dim=1, unbiased=u), rtol=3e-3) for u in (False, True)):
        raise StudentError(
            "you padded the images: the exercise asks for no padding, so the Laplacian is taken on the valid 26x26 "
            "interior only; zero padding invents edges along the border."
        )
    ref = _reference_laplacian_variance(x)
    raise StudentError(f"the values differ from the expected ones: expected {[round(r, 4) for r in ref.tolist()]}.")


_DTYPE_ERRORS = ("scalar type", "should be the same", "dtype")  # what torch says about mixed dtypes or devices


def _call_laplacian(laplacian_variance: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Call the student's function on x, explaining a kernel whose dtype does not match the images'."""
    try:
        return require_tensor(call(laplacian_variance, x.clone()), "the result")
    except RuntimeError as err:
        if any(s in str(err) for s in _DTYPE_ERRORS):
            raise StudentError(
                f"your function failed on {str(x.dtype).removeprefix('torch.')} images because the kernel's dtype (or "
                "device) does not match theirs: build the kernel with the dtype and device of x, as the exercise asks."
            ) from None
        raise


def check_laplacian_variance(laplacian_variance: Callable[[torch.Tensor], torch.Tensor]) -> Verdict:
    """Check laplacian_variance(x [N, 1, 28, 28]) -> [N] variance of each image's 4-neighbour Laplacian."""

    def body() -> None:
        x = _sharpness_images()
        n = x.shape[0]
        _call_laplacian(laplacian_variance, x.float())  # the notebook's images are float32: a fixed float64 kernel fails here
        v = _call_laplacian(laplacian_variance, x)  # and a fixed float32 kernel here
        if v.dim() == 0:
            raise StudentError(f"you returned one number for the whole batch: return one value per image, shape [{n}].")
        if tuple(v.shape) in ((n, 1), (n, 1, 1), (n, 1, 1, 1)):
            raise StudentError(f"the result has shape {list(v.shape)}: flatten it to [{n}] (e.g. .flatten() or .squeeze()).")
        require_shape(v, (n,), "the result")
        v = v.detach().double()
        accepted = [_filtered(x).flatten(1).var(dim=1, unbiased=u) for u in (False, True)]  # population or sample variance
        if not any(_close(v, a) for a in accepted):
            _laplacian_mistake(v, x)

    return run_check("laplacian_variance", body, "one variance of the Laplacian per image.")


# --------------------------------------------------------------------------------------------------
# Exercise: inverting a generator by optimising its input
# --------------------------------------------------------------------------------------------------


class _TinyGenerator(nn.Module):
    """A small generator: z [N, 4] -> images [N, 1, 28, 28] in [0, 1]."""

    def __init__(self) -> None:
        """One hidden layer with a fixed random initialisation."""
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 784), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode latents to images."""
        return self.net(z).view(-1, 1, 28, 28)


def _generator() -> _TinyGenerator:
    """The check's generator, with fixed weights scaled up so that z matters."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)  # the layers draw their initial weights from the global generator
        gen = _TinyGenerator()
    with torch.no_grad():
        gen.net[0].weight.mul_(3.0)
        gen.net[2].weight.mul_(3.0)
    return gen.requires_grad_(False)


def _reference_invert(
    decode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, z0: torch.Tensor, steps: int, lr: float, variant: str = "ok"
) -> torch.Tensor:
    """Adam on z from z0, minimising the squared error summed per image and averaged over the batch."""
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        if variant != "no_zero_grad":
            opt.zero_grad()
        loss = ((decode(z) - x) ** 2).flatten(1).sum(dim=1).mean()
        (-loss if variant == "ascent" else loss).backward()
        opt.step()
    return z.detach()


def _per_image_error(decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error per image [N] between decode(z) and x."""
    with torch.no_grad():
        return ((decode(z) - x) ** 2).flatten(1).sum(dim=1)


class _RecordingDecoder(nn.Module):
    """The check's generator as the student's decode: it keeps each output and the gradient the loss sends to it."""

    def __init__(self, gen: nn.Module) -> None:
        """Wrap gen; records holds one {"out", "grad"} pair per call made with gradients."""
        super().__init__()
        self.gen = gen
        self.records: list[dict[str, torch.Tensor | None]] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode z, keeping the output and, once a backward pass reaches it, its gradient."""
        out = self.gen(z)
        if out.requires_grad:
            record: dict[str, torch.Tensor | None] = {"out": out.detach().clone(), "grad": None}
            self.records.append(record)
            out.register_hook(partial(_keep_grad, record))
        return out


def _keep_grad(record: dict[str, torch.Tensor | None], grad: torch.Tensor) -> None:
    """Store the gradient that reached a decoded batch."""
    if record["grad"] is None:
        record["grad"] = grad.detach().clone()


def _loss_scale(records: list[dict[str, torch.Tensor | None]], x: torch.Tensor) -> float | None:
    """c with 2 c (G(z) - x) the gradient of the first backward pass at the decoded batch (1/N for the right loss), or None."""
    first = next((r for r in records if r["grad"] is not None), None)
    if first is None:
        return None
    diff = (first["out"] - x).double()
    grad = first["grad"].double()
    c = (grad * diff).sum() / (2 * diff.pow(2).sum())
    if (grad - 2 * c * diff).norm() > 1e-3 * grad.norm():
        return None  # not a plain squared error: judged by its outcome below
    return c.item()


def _require_loss_scale(records: list[dict[str, torch.Tensor | None]], x: torch.Tensor) -> None:
    """Stop unless the loss is the squared error summed over each image's pixels and averaged over the batch."""
    c = _loss_scale(records, x)
    n, pixels = x.shape[0], x[0].numel()
    if c is None or c <= 0 or abs(c * n - 1) < 1e-2:
        return
    per_image = "sum the squared error over the pixels of each image, then average over the images of the batch"
    wrong = {
        1 / (n * pixels): f"your loss is a mean over all pixels (what F.mse_loss computes), {pixels} times smaller than "
        f"the exercise's loss: {per_image}.",
        1.0: f"your loss sums the per-image errors over the batch, {n} times the exercise's loss: {per_image}.",
        1 / pixels: f"your loss averages over the pixels and sums over the batch: {per_image}.",
    }
    for scale, message in wrong.items():
        if abs(c / scale - 1) < 1e-2:
            raise StudentError(message)
    raise StudentError(f"your loss is {c * n:.3g} times the exercise's loss: {per_image}.")


def check_invert_generator(invert_generator: Callable[..., torch.Tensor]) -> Verdict:
    """Check invert_generator(decode, x, z0, steps, lr) -> z [N, d] found by Adam on the squared error."""

    def body() -> None:
        gen = _generator()
        weights = [p.detach().clone() for p in gen.parameters()]
        g = torch.Generator().manual_seed(5)
        z_true = torch.randn(6, 4, generator=g)
        with torch.no_grad():
            x = gen(z_true)
        z0 = torch.randn(6, 4, generator=g)
        z0_copy = z0.clone()
        steps, lr = 60, 0.05
        decode = _RecordingDecoder(gen)
        z = require_tensor(call(invert_generator, decode, x.clone(), z0, steps, lr), "z")
        if z.shape == x.shape:
            raise StudentError("you returned images: return the latent codes z (shape [N, z_dim]); decode them afterwards.")
        require_shape(z, (6, 4), "z")
        if not torch.equal(z0, z0_copy):
            raise StudentError("you changed z0 in place: optimise a copy of z0 that requires gradients, and leave z0 as it is.")
        if not all(torch.equal(p, w) for p, w in zip(gen.parameters(), weights, strict=True)):
            raise StudentError("the generator's weights changed: the optimiser must hold z only, not the generator's parameters.")
        if z.requires_grad:
            raise StudentError(
                "the returned z is still attached to the graph (it requires grad): return it detached, as the exercise asks, "
                "so that using it later does not backpropagate into the optimisation."
            )
        z = z.float()
        if _close(z, z0):
            raise StudentError("z did not move from z0: call loss.backward() and optimizer.step() in every step.")
        _require_loss_scale(decode.records, x)
        ref = _reference_invert(gen, x, z0, steps, lr)
        if _close(z, ref, rtol=1e-3, atol=1e-4):
            return
        for variant, message in (
            ("no_zero_grad", "you did not call optimizer.zero_grad() in the loop: gradients of earlier steps pile up."),
            ("ascent", "the error grew: minimise the squared error, do not maximise it (look at the sign of what you backpropagate)."),
        ):
            if _close(z, _reference_invert(gen, x, z0, steps, lr, variant), rtol=1e-3, atol=1e-4):
                raise StudentError(message)
        err, ref_err = _per_image_error(gen, z, x).mean(), _per_image_error(gen, ref, x).mean()
        start_err = _per_image_error(gen, z0, x).mean()
        if err >= start_err:
            raise StudentError(
                f"the squared error did not go down ({start_err:.3f} at z0, {err:.3f} at your z): check the loss and the sign."
            )
        if err <= ref_err * 1.05 + 1e-4:
            return  # another route (another optimiser) that reconstructs as well
        raise StudentError(
            f"your z reconstructs worse than {steps} Adam steps with lr={lr} should (squared error {err:.4f} per image, "
            f"expected about {ref_err:.4f}): take `steps` steps of Adam with learning rate lr on the squared error."
        )

    return run_check("invert_generator", body, "Adam on z alone brings G(z) close to x, and z0 and the generator stay untouched.")
