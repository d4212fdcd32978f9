"""A small sweep over lab 2's VAE recipe, each variant trained with the lab's own code and scored by utils.metrics.

    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/vae_sweep.py                     # every variant
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/vae_sweep.py --only lab 'z = 32'  # some of them
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/vae_sweep.py --seeds 0 1 2      # each from 3 seeds
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/vae_sweep.py --write             # and record

Every variant runs lab 2's `train_vae` (from `lab_code/vae_lab.py`) on all 60,000 training digits from the
same seed (or each of `--seeds`), changing one thing against the lab's recipe (or a named combination), and is
judged like the lab judges its model: the loss on the whole test set in nats per image (one z per image, the
lab's `evaluate`), and FID-proxy, precision, recall and digits present of 5,000 samples against 5,000 test
digits, all from `utils.metrics`; first for codes drawn from the prior N(0, I), then (*mixture*) for codes
drawn from the lab's `fit_mixture` fitted to the training digits' codes, and (*widened*) from that mixture
widened by the width the lab's `balanced_width` picks from its `WIDTHS` (scored against training digits
there). Two variants change what training minimises (free bits; a Gaussian likelihood with the optimal shared
variance): their test loss is still the lab's. Rows print as they finish; `--write` records the table in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readme_section import chosen_variants, publish, table_section  # noqa: E402

from lab_code import vae_lab  # noqa: E402 (lab 2's exported code)
from utils import metrics  # noqa: E402
from utils.data import iterate_batches, load_mnist  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
HEADING = "## Lab 2: the VAE recipe sweep"


class ConvEncoder(nn.Module):
    """q(z|x) with two strided convolutions before the MLP head: images -> (mu, logvar)."""

    def __init__(self, z_dim: int, c: int = 16, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.ReLU(),  # [B, c, 14, 14]
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),  # [B, 2c, 7, 7]
            nn.Flatten(), nn.Linear(2 * c * 49, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(nn.Module):
    """p(x|z) as an MLP to a 7 x 7 map and two transposed convolutions: latents -> logits [B, 1, 28, 28]."""

    def __init__(self, z_dim: int, c: int = 16, hidden: int = 512):
        super().__init__()
        self.c = c
        self.fc = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * c * 49), nn.ReLU())
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c, 1, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.fc(z).view(-1, 2 * self.c, 7, 7))  # [B, 2c * 49] -> [B, 2c, 7, 7]


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) of each latent dimension, averaged over the batch: [z_dim] nats."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(0)  # [B, z_dim] -> [z_dim]


def free_bits_loss(lam: float) -> Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The lab's vae_loss with free bits: in training, each dimension's KL counts as at least lam nats."""

    def loss(x_logits, x, mu, logvar, beta=1.0):
        recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / x.shape[0]
        kl_l = kl_per_dimension(mu, logvar)
        return recon + beta * kl_l.clamp(min=lam).sum(), recon, kl_l.sum()

    return loss


def gaussian_loss(x_logits, x, mu, logvar, beta=1.0):
    """A Gaussian likelihood around sigmoid(logits) whose shared variance is the batch's mean squared error (its optimum)."""
    sq = (x - torch.sigmoid(x_logits)).pow(2)  # [B, 1, 28, 28]
    var = sq.mean().detach()  # the variance that maximises this batch's likelihood
    recon = 0.5 * (sq / var + torch.log(2 * math.pi * var)).sum() / x.shape[0]
    kl = kl_per_dimension(mu, logvar).sum()
    return recon + beta * kl, recon, kl


@contextlib.contextmanager
def training_loss(opts: dict[str, Any]) -> Iterator[None]:
    """Inside: lab 2's train_step minimises the variant's loss (free bits, Gaussian) instead of the lab's."""
    lab_loss = vae_lab.vae_loss
    if "free_bits" in opts:
        vae_lab.vae_loss = free_bits_loss(opts["free_bits"])
    elif opts.get("gaussian"):
        vae_lab.vae_loss = gaussian_loss
    try:
        yield
    finally:
        vae_lab.vae_loss = lab_loss


# name -> options (epochs, batch, lr, z_dim, conv, free_bits, gaussian); unnamed options are the lab's.
# The test loss is always the lab's; free bits and the Gaussian change only what training minimises.
VARIANTS: dict[str, dict[str, Any]] = {
    "lab": {},
    "free bits, 0.5 nats per dimension": {"free_bits": 0.5},
    "Gaussian likelihood, optimal shared variance": {"gaussian": True},
    "batch 256, lr 2e-3": {"batch": 256, "lr": 2e-3},
    "batch 256, lr 2e-3, twice the epochs": {"batch": 256, "lr": 2e-3, "epochs": 2 * vae_lab.EPOCHS},
    "z = 32": {"z_dim": 32},
    "convolutional encoder and decoder (c = 16)": {"conv": True},
    "convolutional, z = 32": {"conv": True, "z_dim": 32},
}


def make_vae(opts: dict[str, Any]) -> nn.Module:
    """The variant's VAE: lab 2's, with its z size, or with the convolutional networks above."""
    z_dim = opts.get("z_dim", vae_lab.Z_DIM)
    vae = vae_lab.VAE(hidden=vae_lab.HIDDEN, z_dim=z_dim)
    if opts.get("conv"):
        vae.encoder, vae.decoder = ConvEncoder(z_dim), ConvDecoder(z_dim)
    return vae.to(vae_lab.device)


@torch.no_grad()
def scores(vae: nn.Module, z: torch.Tensor, real: torch.Tensor) -> dict[str, Any]:
    """utils.metrics' scores of the decoded codes z."""
    vae.eval()
    x_hat = torch.cat([torch.sigmoid(vae.decoder(zb)) for zb in z.split(1000)])  # [N, 1, 28, 28]
    return metrics.evaluate_samples(x_hat, real)


def run(name: str, x_train: torch.Tensor, x_test: torch.Tensor, n_eval: int, seed: int = 0) -> dict[str, Any]:
    """Train one variant with lab 2's train_vae; its test loss, and scores of prior, mixture and widened samples."""
    opts = VARIANTS[name]
    epochs = opts.get("epochs", vae_lab.EPOCHS)
    torch.manual_seed(seed)
    vae = make_vae(opts)
    start = time.perf_counter()
    with training_loss(opts):
        vae_lab.train_vae(
            vae, x_train, epochs, lr=opts.get("lr", vae_lab.LR), batch_size=opts.get("batch", vae_lab.BATCH_SIZE), desc=name,
            verbose=False,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    test = vae_lab.evaluate(vae, x_test)
    real = x_test[:n_eval]
    g = torch.Generator().manual_seed(2024)
    prior = scores(vae, torch.randn(n_eval, vae.z_dim, generator=g).to(vae_lab.device), real)
    with torch.no_grad():
        mu = torch.cat([vae.encoder(xb)[0] for (xb,) in iterate_batches(x_train, batch_size=1000, shuffle=False)])
    fitted = vae_lab.fit_mixture(mu)
    torch.manual_seed(2024)
    mixture = scores(vae, fitted.sample((n_eval,)), real)
    tau = vae_lab.balanced_width(vae_lab.score_widths(vae.decoder, fitted, x_train[:n_eval]))
    torch.manual_seed(2024)
    widened = scores(vae, vae_lab.widen(fitted, tau).sample((n_eval,)), real)
    params = sum(p.numel() for p in vae.decoder.parameters())
    label = name if seed == 0 else f"{name}, seed {seed}"
    return {"name": label, "epochs": epochs, "seconds": seconds, "params": params, **test, "prior": prior, "mixture": mixture,
            "tau": tau, "widened": widened}  # fmt: skip


def row(r: dict[str, Any]) -> str:
    """One markdown table row."""
    scored = " | ".join(
        f"{s['fid_proxy']:.1f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['digits_present']}/10"
        for s in (r["prior"], r["mixture"], r["widened"])
    )
    return (
        f"| {r['name']} | {r['epochs']} | {r['params'] / 1e6:.2f}M | {r['loss']:.2f} | {r['kl']:.1f} | {scored} | "
        f"{r['tau']:.1f} | {r['seconds']:.0f} |"
    )


def render(rows: list[dict[str, Any]], n_eval: int, command: str, seeds: list[int] | None = None) -> str:
    """The README section."""
    intro = (
        f"Lab 2's `train_vae` on the 60,000 training digits, one change per row against the lab's recipe (`lab`: "
        f"{vae_lab.EPOCHS} epochs, batch {vae_lab.BATCH_SIZE}, learning rate {vae_lab.LR:g} with a cosine schedule, "
        f"z = {vae_lab.Z_DIM}), from {'seeds ' + ', '.join(map(str, seeds)) if seeds and seeds != [0] else 'seed 0'} (a row names "
        f"its seed unless it is 0). *Test loss* is the lab's loss (the negative ELBO, one z per image) on "
        f"the 10,000 test digits in nats per image, *KL* its KL term, for every row (the free-bits and Gaussian rows "
        "change only what training minimises); the decoder's parameters are counted. "
        f"Samples are scored on {n_eval:,} images against {n_eval:,} test digits with `utils.metrics`, first for "
        f"z from the prior N(0, I), then (*mix.*) for z from the lab's `fit_mixture` ({vae_lab.K_MIX} Gaussians, "
        f"{vae_lab.EM_STEPS} EM steps) fitted to the training digits' codes, then (*wide*) for z from that mixture with "
        f"every covariance scaled by tau^2 (the lab's `widen`), tau the one of {', '.join(map(str, vae_lab.WIDTHS))} "
        "whose smaller score of precision and recall is largest against training digits (the lab's `balanced_width`). "
        "Training seconds include the machine's load; compare them within the table only."
    )
    columns = ["variant", "epochs", "decoder", "test loss", "KL", "FID-proxy", "precision", "recall", "digits",
               "mix. FID-proxy", "mix. precision", "mix. recall", "mix. digits",
               "wide FID-proxy", "wide precision", "wide recall", "wide digits", "tau", "train (s)"]  # fmt: skip
    return table_section(HEADING, intro, columns, [row(r) for r in rows], command)


def main(argv: list[str] | None = None) -> int:
    """Run the variants, print rows as they finish, and with --write record the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--eval", type=int, default=5000, help="samples (and test digits) per score")
    parser.add_argument("--only", nargs="*", default=None, help=f"variants to run, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0], help="training seeds, each variant from each")
    parser.add_argument("--write", action="store_true", help="record the table in benchmarks/README.md")
    args = parser.parse_args(argv)
    names = chosen_variants(parser, args.only, VARIANTS)
    x_train, _ = load_mnist(train=True, device=vae_lab.device)
    x_test, _ = load_mnist(train=False, device=vae_lab.device)
    rows = []
    for name in names:
        for seed in args.seeds:
            rows.append(run(name, x_train, x_test, args.eval, seed))
            print(row(rows[-1]), flush=True)
    command = "OMP_NUM_THREADS=1 python benchmarks/vae_sweep.py"
    if args.only:
        command += " --only " + " ".join(shlex.quote(n) for n in args.only)
    if args.seeds != [0]:
        command += " --seeds " + " ".join(map(str, args.seeds))
    publish(README, HEADING, render(rows, args.eval, command + " --write", args.seeds), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
