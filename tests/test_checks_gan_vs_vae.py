"""The lab 3 checks accept right answers and reject known-wrong ones with a specific message."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import assert_fails, stub

from utils.checks import gan_vs_vae

KERNEL = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
EIGHT = torch.tensor([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]]).view(1, 1, 3, 3)


# ----------------------------------------------------------------------------------------- laplacian_variance


def lap(x, kernel=KERNEL, padding=0):
    """The filtered images, flattened per image."""
    return F.conv2d(x, kernel.to(x), padding=padding).flatten(1)


def test_laplacian_variance_correct_passes(capsys):
    for fn in (
        lambda x: lap(x).var(dim=1, unbiased=False),
        lambda x: lap(x).var(dim=1),  # sample variance: accepted
        lambda x: F.conv2d(x, KERNEL.to(dtype=x.dtype, device=x.device)).flatten(1).var(dim=1),  # the solution's form
        lambda x: lap(-KERNEL.to(x).sum() * 0 + x, -KERNEL).var(dim=1, unbiased=False),  # the sign does not matter
    ):
        v = gan_vs_vae.check_laplacian_variance(fn)
        assert v.passed, v.line()
    assert "[PASS] laplacian_variance" in capsys.readouterr().out


def test_laplacian_variance_stub_fails():
    assert_fails(gan_vs_vae.check_laplacian_variance(stub), "not done yet")


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda x: lap(x).var(), "one number for the whole batch"),
        (lambda x: lap(x).var(dim=1, keepdim=True), "flatten it"),
        (lambda x: lap(x).var(dim=0), "expected [6]"),
        (lambda x: lap(x).std(dim=1), "standard deviation"),
        (lambda x: lap(x).mean(dim=1), "mean of the Laplacian"),
        (lambda x: lap(x).abs().mean(dim=1), "mean absolute"),
        (lambda x: lap(x).pow(2).mean(dim=1), "mean squared"),
        (lambda x: x.flatten(1).var(dim=1), "variance of the image itself"),
        (lambda x: lap(x, EIGHT).var(dim=1), "8-neighbour"),
        (lambda x: 2 * lap(x).var(dim=1), "differ from the expected"),
        (lambda x: lap(x).var(dim=1).numpy(), "should be a torch.Tensor"),
        (lambda x: lap(x.squeeze(1)).var(dim=1), "your code raised"),
        (lambda x: lap(x, padding=1).var(dim=1), "you padded the images"),
        (lambda x: lap(x, padding=1).var(dim=1, unbiased=False), "valid 26x26 interior"),
        (lambda x: F.conv2d(x, KERNEL.to(x), padding="same").flatten(1).var(dim=1), "no padding"),
        (lambda x: F.conv2d(x, KERNEL).flatten(1).var(dim=1), "the kernel's dtype"),  # float32 kernel, float64 images
        (lambda x: F.conv2d(x, KERNEL.double()).flatten(1).var(dim=1), "dtype and device of x"),  # float64 kernel
    ],
)
def test_laplacian_variance_wrong_fails(wrong, fragment):
    assert_fails(gan_vs_vae.check_laplacian_variance(wrong), fragment)


# ----------------------------------------------------------------------------------------- invert_generator


def invert_ok(decode, x, z0, steps, lr):
    """Right: Adam on a copy of z0, squared error summed per image, averaged over the batch."""
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((decode(z) - x) ** 2).sum(dim=(1, 2, 3)).mean()
        loss.backward()
        opt.step()
    return z.detach()


def invert_with(loss_fn, detach=True):
    """An inversion with another loss (Adam barely notices its scale, the check does); detach=False returns z attached."""

    def fn(decode, x, z0, steps, lr):
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(decode(z), x).backward()
            opt.step()
        return z.detach() if detach else z

    return fn


def invert_norm(decode, x, z0, steps, lr):
    """Right: the same loss written with a norm and a division by the batch size."""
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = (decode(z) - x).flatten(1).norm(dim=1).pow(2).sum() / len(x)
        loss.backward()
        opt.step()
    return z.detach()


def make_invert(mistake):
    """An inversion making one mistake."""

    def fn(decode, x, z0, steps, lr):
        z = z0.requires_grad_(True) if mistake == "in_place" else z0.clone().requires_grad_(True)
        params = [z, *decode.parameters()] if mistake == "train_generator" else [z]
        if mistake == "train_generator":
            for p in decode.parameters():
                p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps // 10 if mistake == "few_steps" else steps):
            if mistake != "no_zero_grad":
                opt.zero_grad()
            loss = ((decode(z) - x) ** 2).sum(dim=(1, 2, 3)).mean()
            (-loss if mistake == "ascent" else loss).backward()
            if mistake != "no_step":
                opt.step()
        if mistake == "images":
            return decode(z).detach()
        if mistake == "no_grad_decode":
            with torch.no_grad():
                decode(z).sum().backward()
        return z.detach()

    return fn


def test_invert_generator_correct_passes(capsys):
    for fn in (invert_ok, invert_norm, invert_with(lambda out, x: F.mse_loss(out, x, reduction="sum") / len(x))):
        v = gan_vs_vae.check_invert_generator(fn)
        assert v.passed, v.line()
    assert "[PASS] invert_generator" in capsys.readouterr().out


def test_invert_generator_stub_fails():
    assert_fails(gan_vs_vae.check_invert_generator(stub), "not done yet")


@pytest.mark.parametrize(
    ("mistake", "fragment"),
    [
        ("in_place", "changed z0 in place"),
        ("train_generator", "generator's weights changed"),
        ("no_zero_grad", "zero_grad()"),
        ("ascent", "do not maximise"),
        ("no_step", "did not move"),
        ("images", "you returned images"),
        ("few_steps", "reconstructs worse"),
        ("no_grad_decode", "your code raised RuntimeError"),
    ],
)
def test_invert_generator_wrong_fails(mistake, fragment):
    assert_fails(gan_vs_vae.check_invert_generator(make_invert(mistake)), fragment)


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (invert_with(lambda out, x: ((out - x) ** 2).sum(dim=(1, 2, 3)).mean(), detach=False), "still attached to the graph"),
        (invert_with(F.mse_loss), "mean over all pixels"),
        (invert_with(lambda out, x: ((out - x) ** 2).mean()), "784 times smaller"),
        (invert_with(lambda out, x: ((out - x) ** 2).sum()), "sums the per-image errors over the batch"),
        (invert_with(lambda out, x: F.mse_loss(out, x, reduction="sum")), "6 times the exercise's loss"),
        (invert_with(lambda out, x: ((out - x) ** 2).mean(dim=(1, 2, 3)).sum()), "averages over the pixels and sums over the batch"),
        (invert_with(lambda out, x: 0.5 * ((out - x) ** 2).sum(dim=(1, 2, 3)).mean()), "0.5 times the exercise's loss"),
    ],
)
def test_invert_generator_wrong_loss_or_return_fails(wrong, fragment):
    assert_fails(gan_vs_vae.check_invert_generator(wrong), fragment)


def test_invert_generator_wrong_shape_fails():
    assert_fails(gan_vs_vae.check_invert_generator(lambda d, x, z0, s, lr: invert_ok(d, x, z0, s, lr)[:, :2]), "expected [6, 4]")
