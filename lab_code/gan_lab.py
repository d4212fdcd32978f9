"""The cells of labs/solutions/01_gan_lab.ipynb marked `#| export`, with their solutions.

Made by `python scripts/assignments.py` from the lab: edit the lab, never this file.
"""

# ruff: noqa
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from utils import config

device = config.get_device()


DATASET = "mnist"  # or "fashion-mnist"
# training steps (one D step + one G step each)
STEPS = config.pick(full=3000, fast=200)
# steps between sample grids and coverage numbers
SNAPSHOT_EVERY = config.pick(full=250, fast=50)
N_TRACK = config.pick(full=1000, fast=300)  # samples scored at each snapshot
# samples (and real images) in the final scores
N_EVAL = config.pick(full=5000, fast=1000)
N_SAMPLES = config.pick(full=5000, fast=1000)  # samples saved for lab 3
# the short runs of the mode-collapse experiment (a multiple of SNAPSHOT_EVERY)
COLLAPSE_STEPS = config.pick(full=500, fast=50)


Z_DIM, CHANNELS = 64, 32  # noise size, channel width c of both networks
D_HIDDEN = 128  # units in the hidden layer of the discriminator's MLP head
BATCH_SIZE, LR, BETAS = 64, 2e-3, (0.0, 0.99)
# the mode-collapse experiment: Adam's default momentum instead of none
COLLAPSE_BETAS = (0.9, 0.999)
REAL_LABEL = 0.9  # one-sided label smoothing (targets for real images)
EMA_DECAY = 0.999  # weight averaging of G, used for samples
# rejection sampling: D's extra steps against G_ema, their learning rate, and the
# quantile of D's logits used as the cap M
DRS_STEPS, DRS_LR = config.pick(full=150, fast=30), 2e-4
DRS_QUANTILE = 0.9


class Generator(nn.Module):
    """G: noise [B, z_dim] -> images [B, 1, 28, 28] in [0, 1]."""

    def __init__(self, z_dim: int = Z_DIM, channels: int = CHANNELS):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Linear(z_dim, 2 * c * 7 * 7),
            nn.Unflatten(1, (2 * c, 7, 7)),  # [B, 2c*49] -> [B, 2c, 7, 7]
            nn.BatchNorm2d(2 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),  # -> [B, c, 14, 14]
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.ConvTranspose2d(c, c // 2, 4, 2, 1),  # -> [B, c/2, 28, 28]
            nn.BatchNorm2d(c // 2),
            nn.ReLU(),
            nn.Conv2d(c // 2, 1, 3, padding=1),  # -> [B, 1, 28, 28]
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MinibatchStd(nn.Module):
    """Append one channel: the spread of the features across the batch
    (one number, broadcast)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        spread = h.std(dim=0).mean()  # std over the batch, averaged: a scalar
        extra = spread.expand(h.shape[0], 1, *h.shape[2:])  # [] -> [B, 1, H, W]
        return torch.cat([h, extra], dim=1)  # [B, C, H, W] -> [B, C + 1, H, W]


class Discriminator(nn.Module):
    """D: images [B, 1, 28, 28] in [0, 1] -> logits [B, 1]."""

    def __init__(self, channels: int = CHANNELS, hidden: int = D_HIDDEN):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # -> [B, c, 14, 14]
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2),  # -> [B, 2c, 7, 7]
            nn.Conv2d(2 * c, 2 * c, 3, padding=1),
            nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2),  # -> [B, 2c, 7, 7]
            MinibatchStd(),  # -> [B, 2c + 1, 7, 7]
            nn.Flatten(),  # -> [B, (2c + 1)*49]
            nn.Linear((2 * c + 1) * 7 * 7, hidden),
            nn.LeakyReLU(0.2),  # -> [B, hidden]
            nn.Linear(hidden, 1),  # -> [B, 1] logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(2 * x - 1)


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0
) -> torch.Tensor:
    """BCE(real_logits, real_label) + BCE(fake_logits, 0), each a batch mean."""
    real = F.binary_cross_entropy_with_logits(
        real_logits, torch.full_like(real_logits, real_label)
    )
    fake = F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )
    return real + fake


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss from D's logits on the fakes: a scalar."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def train_step(
    G: nn.Module,
    D: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    x: torch.Tensor,
    z: torch.Tensor,
) -> dict[str, float]:
    """One D step on detached fakes, then one G step with the non-saturating loss."""
    fake = G(z)

    real_logits, fake_logits = D(x), D(fake.detach())
    d_loss = discriminator_loss(real_logits, fake_logits, real_label=REAL_LABEL)
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()

    D.requires_grad_(False)  # the G step needs no gradients for D's weights
    g_loss = generator_loss(D(fake))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    D.requires_grad_(True)

    return {
        "d_loss": d_loss.item(),
        "g_loss": g_loss.item(),
        "d_real": torch.sigmoid(real_logits).mean().item(),
        "d_fake": torch.sigmoid(fake_logits).mean().item(),
    }


def dcgan_init(m: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, N(1, 0.02) batch-norm scales, zero
    biases."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


@torch.no_grad()
def update_ema(
    G_ema: nn.Module, G: nn.Module, step: int, decay: float = EMA_DECAY
) -> None:
    """Move G_ema's weights towards G's; copy the batch-norm statistics."""
    beta = min(decay, (1 + step) / (10 + step))  # warm-up: short memory at first
    for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
        p_ema.lerp_(p, 1 - beta)  # p_ema = beta * p_ema + (1 - beta) * p
    for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
        b_ema.copy_(b)


@torch.no_grad()
def sample(G: nn.Module, n: int, seed: int = 1234) -> torch.Tensor:
    """n images [n, 1, 28, 28] in [0, 1] from G in eval mode, from noise with its own
    seed."""
    G.eval()
    # leaves the training's random stream alone
    noise = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, Z_DIM, device=device, generator=noise)
    return torch.cat([G(zb) for zb in z.split(1000)])


from utils.data import iterate_batches
from utils.progress import progress


def make_gan(
    make_G=Generator, make_D=Discriminator, lr_g=LR, lr_d=LR, betas=BETAS, seed=0
):
    """Fresh G and D (DCGAN initialisation), G's average G_ema, and an Adam for each."""
    torch.manual_seed(seed)
    G, D = make_G().to(device), make_D().to(device)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    G_ema = copy.deepcopy(G)
    opt_G = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas)
    return G, D, G_ema, opt_G, opt_D


def real_batches(x_train):
    """Batches of BATCH_SIZE real images, reshuffled every pass, for ever."""
    while True:
        for (x,) in iterate_batches(x_train, batch_size=BATCH_SIZE, drop_last=True):
            yield x


@torch.no_grad()
def snapshot(G_ema, z_fixed, step, score_fn=None):
    """G_ema's images for z_fixed at this step, with score_fn's numbers if given."""
    G_ema.eval()
    snap = {"step": step, "grid": G_ema(z_fixed).cpu()}
    if score_fn is not None:
        snap.update(score_fn(sample(G_ema, N_TRACK)))
    return snap


def train_gan(
    x_train: torch.Tensor,
    steps: int,
    every: int = 0,
    lr_g: float = LR,
    lr_d: float = LR,
    betas: tuple[float, float] = BETAS,
    make_G=Generator,
    make_D=Discriminator,
    desc: str = "training",
    seed: int = 0,
    score_fn=None,
):
    """Train a fresh GAN: (G, D, G_ema, history of train_step's numbers, snapshots).

    Snapshots every `every` steps (none when 0), scored by score_fn if given."""
    G, D, G_ema, opt_G, opt_D = make_gan(make_G, make_D, lr_g, lr_d, betas, seed)
    z_fixed = torch.randn(64, Z_DIM, device=device)
    history = {"d_loss": [], "g_loss": [], "d_real": [], "d_fake": []}
    snapshots = []
    bar = progress(total=steps, desc=desc)
    for step, x in zip(range(1, steps + 1), real_batches(x_train), strict=False):
        G.train()
        z = torch.randn(BATCH_SIZE, Z_DIM, device=device)
        with config.autocast():  # bfloat16 where the CPU has units for it
            out = train_step(G, D, opt_G, opt_D, x, z)
        update_ema(G_ema, G, step - 1)
        for k, v in out.items():
            history[k].append(v)
        bar.update()
        if step % 25 == 0:
            bar.set_postfix({k: f"{v:.2f}" for k, v in out.items()})
        if every and (step % every == 0 or step == steps):
            snapshots.append(snapshot(G_ema, z_fixed, step, score_fn))
    bar.close()
    return G, D, G_ema, history, snapshots


def finetune_discriminator(
    D: nn.Module, G: nn.Module, x_train: torch.Tensor, steps: int, lr: float = DRS_LR
) -> nn.Module:
    """Train D alone for `steps` steps against the frozen G, real targets 1."""
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=BETAS)
    G.eval()
    step = 0
    while step < steps:
        for (x,) in iterate_batches(x_train, batch_size=BATCH_SIZE, drop_last=True):
            with torch.no_grad():
                fake = G(torch.randn(BATCH_SIZE, Z_DIM, device=device))
            d_loss = discriminator_loss(D(x), D(fake), real_label=1.0)
            opt_D.zero_grad()
            d_loss.backward()
            opt_D.step()
            step += 1
            if step == steps:
                break
    return D


def accept_probability(logits: torch.Tensor, M: float | torch.Tensor) -> torch.Tensor:
    """Rejection sampling's acceptance probability of each sample, from its logit and
    the log-bound M."""
    return torch.exp(logits - M).clamp(max=1.0)


@torch.no_grad()
def discriminator_logits(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """D's logits [N] for images x [N, 1, 28, 28], in batches of BATCH_SIZE."""
    D.train()  # batch statistics and the batch's spread, as in training
    return torch.cat([D(xb) for xb in x.split(BATCH_SIZE)]).squeeze(1)  # [N, 1] -> [N]


def rejection_sample(
    G: nn.Module, D: nn.Module, n: int, M: torch.Tensor, seed: int = 2024
) -> torch.Tensor:
    """n images of G; each candidate is kept with probability accept_probability."""
    coins = torch.Generator(device=device).manual_seed(seed)
    kept, total = [], 0
    for round_ in range(1, 101):  # fresh candidates each round
        x = sample(G, 64 * BATCH_SIZE, seed=seed + round_)
        p_accept = accept_probability(discriminator_logits(D, x), M)
        keep = torch.rand(len(x), generator=coins, device=device) < p_accept
        kept.append(x[keep])
        total += int(keep.sum())
        if total >= n:
            return torch.cat(kept)[:n]
    raise RuntimeError(f"only {total} of {n} accepted: M is too high for these logits.")
