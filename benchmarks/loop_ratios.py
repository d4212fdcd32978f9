"""How fast the labs' training loops are, as ratios to two other ways of writing them, measured in one process.

    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/loop_ratios.py            # print the tables
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/loop_ratios.py --write    # and record them

For each lab, three loops train models of the same size on the same number of MNIST training images:

- **lab**: the lab's own code (its `#| export` cells, `lab_code/`), batches sliced from the training set held
  as one tensor on the device (`utils.data.iterate_batches`);
- **lab + DataLoader**: the same model and training step, fed by a standard torchvision pipeline, `MNIST` with
  `transforms.ToTensor()` through a shuffling `DataLoader`, each batch moved to the device;
- **tutorial**: a reference loop written the way most tutorials write it (as in pytorch/examples): the same
  `DataLoader`, `.to(device)` per batch, sigmoid outputs scored by `nn.BCELoss`/`F.binary_cross_entropy` on
  probabilities, label tensors made at every step and `.item()` read at every step.

The loops take turns over several rounds (so a change in the machine's load hits all of them) and each row
reports its median. Seconds differ from machine to machine; the ratios are what this script measures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readme_section import publish  # noqa: E402
from time_notebooks import machine  # noqa: E402 (the machine line of every benchmark)

from lab_code import gan_lab, vae_lab  # noqa: E402 (the labs' exported code)
from utils.config import data_root  # noqa: E402
from utils.data import iterate_batches, load_mnist  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
HEADING = "## Training loops: the labs against a DataLoader and a tutorial loop"
Step = Callable[[torch.Tensor], None]


def tensor_batches(x: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """The lab's feed: batches sliced from the in-memory training tensor, endlessly."""
    while True:
        for (xb,) in iterate_batches(x, batch_size=batch_size, drop_last=True):
            yield xb


def loader_batches(batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """The standard feed: torchvision's MNIST with ToTensor through a DataLoader, each batch moved to the device."""
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(str(data_root()), train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    while True:
        for xb, _ in loader:
            yield xb.to(device)


def lab_vae_step(device: torch.device) -> Step:
    """Lab 2's model and train_step."""
    model = vae_lab.VAE(hidden=vae_lab.HIDDEN, z_dim=vae_lab.Z_DIM).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=vae_lab.LR)
    return lambda xb: vae_lab.train_step(model, optimizer, xb)


def tutorial_vae_step(device: torch.device) -> Step:
    """A tutorial VAE of lab 2's size: sigmoid decoder, BCE on probabilities, loss.item() at every step."""
    h, d = vae_lab.HIDDEN, vae_lab.Z_DIM
    enc = nn.Sequential(nn.Linear(784, h), nn.ReLU()).to(device)
    fc_mu, fc_logvar = nn.Linear(h, d).to(device), nn.Linear(h, d).to(device)
    dec = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 784), nn.Sigmoid()).to(device)
    modules = [enc, fc_mu, fc_logvar, dec]
    optimizer = torch.optim.Adam([p for m in modules for p in m.parameters()], lr=vae_lab.LR)
    log = []

    def step(data: torch.Tensor) -> None:
        """One tutorial-style step."""
        optimizer.zero_grad()
        hidden = enc(data.view(-1, 784))
        mu, logvar = fc_mu(hidden), fc_logvar(hidden)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = dec(z)
        bce = F.binary_cross_entropy(recon, data.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = bce + kld
        loss.backward()
        log.append(loss.item())
        optimizer.step()

    return step


def _gan_models(device: torch.device, sigmoid: bool) -> tuple[nn.Module, nn.Module]:
    """Lab 1's generator and discriminator (the tutorial's D ends with a sigmoid)."""
    G, D = gan_lab.Generator().to(device), gan_lab.Discriminator().to(device)
    G.apply(gan_lab.dcgan_init)
    D.apply(gan_lab.dcgan_init)
    return G, (nn.Sequential(D, nn.Sigmoid()) if sigmoid else D)


def lab_gan_step(device: torch.device) -> Step:
    """Lab 1's models and train_step."""
    G, D = _gan_models(device, sigmoid=False)
    opt_G = torch.optim.Adam(G.parameters(), gan_lab.LR, betas=gan_lab.BETAS)
    opt_D = torch.optim.Adam(D.parameters(), gan_lab.LR, betas=gan_lab.BETAS)

    def step(xb: torch.Tensor) -> None:
        """One lab step on a batch."""
        gan_lab.train_step(G, D, opt_G, opt_D, xb, torch.randn(len(xb), gan_lab.Z_DIM, device=device))

    return step


def tutorial_gan_step(device: torch.device) -> Step:
    """A DCGAN loop as tutorials write it: BCELoss on sigmoid outputs, label tensors and .item() every step."""
    G, D = _gan_models(device, sigmoid=True)
    criterion = nn.BCELoss()
    opt_G = torch.optim.Adam(G.parameters(), gan_lab.LR, betas=gan_lab.BETAS)
    opt_D = torch.optim.Adam(D.parameters(), gan_lab.LR, betas=gan_lab.BETAS)
    log = []

    def step(real: torch.Tensor) -> None:
        """One tutorial-style D step and G step."""
        b = real.size(0)
        D.zero_grad()
        label = torch.full((b,), gan_lab.REAL_LABEL, device=device)
        output = D(real).view(-1)
        err_real = criterion(output, label)
        err_real.backward()
        d_x = output.mean().item()
        fake = G(torch.randn(b, gan_lab.Z_DIM, device=device))
        label.fill_(0.0)
        output = D(fake.detach()).view(-1)
        err_fake = criterion(output, label)
        err_fake.backward()
        opt_D.step()
        G.zero_grad()
        label.fill_(1.0)
        output = D(fake).view(-1)
        err_g = criterion(output, label)
        err_g.backward()
        opt_G.step()
        log.append((d_x, (err_real + err_fake).item(), err_g.item(), output.mean().item()))

    return step


def timed(step: Step, batches: Iterator[torch.Tensor], n_images: int, device: torch.device) -> float:
    """Images per second of step over n_images from batches, after three warm-up batches."""
    for _ in range(3):
        step(next(batches))
    if device.type == "cuda":
        torch.cuda.synchronize()
    seen, start = 0, time.perf_counter()
    while seen < n_images:
        xb = next(batches)
        step(xb)
        seen += len(xb)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def measure(lab: str, n_images: int, rounds: int, device: torch.device) -> dict[str, float]:
    """Median images per second of the three loops of one lab, taking turns over the rounds."""
    if lab == "vae":
        batch, lab_step, tutorial_step = vae_lab.BATCH_SIZE, lab_vae_step, tutorial_vae_step
    else:
        batch, lab_step, tutorial_step = gan_lab.BATCH_SIZE, lab_gan_step, tutorial_gan_step
    x, _ = load_mnist(train=True, device=device)
    loops = {
        "lab": (lab_step, lambda: tensor_batches(x, batch)),
        "lab + DataLoader": (lab_step, lambda: loader_batches(batch, device)),
        "tutorial": (tutorial_step, lambda: loader_batches(batch, device)),
    }
    speeds: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(rounds):
        for name, (make_step, feed) in loops.items():
            torch.manual_seed(r)
            speeds[name].append(timed(make_step(device), feed(), n_images, device))
            print(f"{lab} round {r + 1}/{rounds}: {name:>16} {speeds[name][-1]:9,.0f} images/s", flush=True)
    return {name: statistics.median(v) for name, v in speeds.items()}


def render(results: dict[str, dict[str, float]], args: argparse.Namespace, env: str) -> str:
    """The README section: one table per lab, with the ratios, and how it was measured."""
    lines = [
        HEADING,
        "",
        "Measured by `benchmarks/loop_ratios.py` (its docstring describes the three loops). *lab*: the lab's own "
        "model and step (`lab_code/`), batches sliced from the training set held as one tensor on the device; "
        "*lab + DataLoader*: the same model and step fed by torchvision's `MNIST` with `ToTensor` through a "
        "`DataLoader`, moved to the device batch by batch; *tutorial*: a loop of the same size written as most "
        "tutorials write it (that `DataLoader`, sigmoid outputs with a BCE loss on probabilities, labels made and "
        "`.item()` read at every step). The loops take turns, in one process; the ratios are the result, the "
        "images per second hold for this machine only.",
        "",
    ]
    names = {"gan": "Lab 1, GAN (DCGAN, batch 64)", "vae": "Lab 2, VAE (MLP, batch 128)"}
    lines += ["| lab | loop | images/s (median) | the lab's loop is faster by |", "|---|---|---:|---:|"]
    for lab, speeds in results.items():
        for name, speed in speeds.items():
            ratio = "" if name == "lab" else f"{speeds['lab'] / speed:.2f}x"
            lines.append(f"| {names[lab]} | {name} | {speed:,.0f} | {ratio} |")
    command = "OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/loop_ratios.py --write"
    if args.device != "cpu":
        command += f" --device {args.device}"
    lines += [
        "",
        f"- **command:** `{command}` on {date.today().isoformat()}: {args.rounds} rounds of "
        f"{args.vae_images:,} images (VAE) and {args.gan_images:,} images (GAN) per loop, medians",
        f"- **machine:** {env}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure both labs, print the section, and with --write record it in benchmarks/README.md."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lab", choices=["gan", "vae", "both"], default="both")
    parser.add_argument("--vae-images", type=int, default=60_000, help="images per VAE loop and round (one epoch)")
    parser.add_argument("--gan-images", type=int, default=12_800, help="images per GAN loop and round (200 steps)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write", action="store_true", help="update this benchmark's section of benchmarks/README.md")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    env = machine(device)
    labs = ["gan", "vae"] if args.lab == "both" else [args.lab]
    results = {lab: measure(lab, args.vae_images if lab == "vae" else args.gan_images, args.rounds, device) for lab in labs}
    section = render(results, args, env)
    publish(README, HEADING, section, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
