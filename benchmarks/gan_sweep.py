"""A small sweep over lab 1's GAN recipe, each variant trained with the lab's own code and scored by utils.metrics.

    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py                 # every variant
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py --only lab sn   # some of them
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py --write         # and record

Every variant runs lab 1's `train_gan` (from `lab_code/gan_lab.py`) for the same number of steps from the
same seed, changing one thing against the lab's recipe (or a named combination), and is judged like the
lab judges its model: FID-proxy, precision and recall against 5,000 test digits, digits present and the
smallest class share, KL of the class histogram to uniform, all from `utils.metrics`, on samples of the
weight-averaged generator. Rows print as they finish; `--write` records the table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readme_section import replace_section  # noqa: E402

from lab_code import gan_lab  # noqa: E402 (lab 1's exported code)
from utils import metrics  # noqa: E402
from utils.data import load_mnist  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
HEADING = "## Lab 1: the GAN recipe sweep"


def spectral(D: nn.Module) -> nn.Module:
    """D with spectral normalisation on every convolution and linear layer (and no batch norm)."""
    for name, child in D.named_children():
        if isinstance(child, nn.Conv2d | nn.Linear):
            setattr(D, name, nn.utils.parametrizations.spectral_norm(child))
        elif isinstance(child, nn.BatchNorm2d):
            setattr(D, name, nn.Identity())
        else:
            spectral(child)
    return D


def textbook_generator(channels: int) -> nn.Module:
    """Lab 1's generator without its refinement stage: the last upsampling writes the pixels (DCGAN)."""
    G = gan_lab.Generator(channels=channels)
    layers = list(G.net)
    last_up = max(i for i, m in enumerate(layers) if isinstance(m, nn.ConvTranspose2d))
    head = layers[:last_up]  # up to [B, c, 14, 14]
    G.net = nn.Sequential(*head, nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1), nn.Sigmoid())
    return G


def shallow_discriminator(channels: int) -> nn.Module:
    """Lab 1's discriminator without its 3 x 3 convolution at 7 x 7."""
    D = gan_lab.Discriminator(channels)
    layers = list(D.net)
    i = next(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    D.net = nn.Sequential(*layers[:i], *layers[i + 3 :])  # drops Conv2d(2c, 2c, 3), its batch norm and activation
    return D


# name -> options for train_gan (lr_g, lr_d, betas, channels, batch, sn, textbook_g, shallow_d)
VARIANTS: dict[str, dict[str, Any]] = {
    "lab": {},
    "textbook G (pixels from the last upsampling)": {"textbook_g": True},
    "D without the 3 x 3 layer at 7 x 7": {"shallow_d": True},
    "both (the earlier recipe)": {"textbook_g": True, "shallow_d": True},
    "Adam betas (0, 0.99)": {"betas": (0.0, 0.99)},
    "lr 1e-3": {"lr_g": 1e-3, "lr_d": 1e-3},
    "lr G 1e-3, D 2e-3": {"lr_g": 1e-3, "lr_d": 2e-3},
    "lr D 4e-3 (twice G's)": {"lr_d": 4e-3},
    "c = 48": {"channels": 48},
    "batch 128": {"batch": 128},
    "sn": {"sn": True},
    "sn, lr G 1e-3, D 2e-3": {"sn": True, "lr_g": 1e-3, "lr_d": 2e-3},
    "c = 48, batch 128": {"channels": 48, "batch": 128},
}


def run(name: str, x_train: torch.Tensor, x_test: torch.Tensor, steps: int, n_eval: int) -> dict[str, Any]:
    """Train one variant with lab 1's train_gan and score its EMA generator's samples."""
    opts = VARIANTS[name]
    c = opts.get("channels", gan_lab.CHANNELS)
    base: Callable[[int], nn.Module] = shallow_discriminator if opts.get("shallow_d") else gan_lab.Discriminator
    make_D: Callable[[], nn.Module] = (lambda: spectral(base(c))) if opts.get("sn") else (lambda: base(c))
    make_G: Callable[[int], nn.Module] = textbook_generator if opts.get("textbook_g") else gan_lab.Generator
    batch, gan_lab.BATCH_SIZE = gan_lab.BATCH_SIZE, opts.get("batch", gan_lab.BATCH_SIZE)
    start = time.perf_counter()
    try:
        _, G_ema, _, _ = gan_lab.train_gan(
            x_train, steps, lr_g=opts.get("lr_g", gan_lab.LR), lr_d=opts.get("lr_d", gan_lab.LR), desc=name,
            betas=opts.get("betas", gan_lab.BETAS), make_G=lambda: make_G(c), make_D=make_D, seed=0,
        )  # fmt: skip
    finally:
        gan_lab.BATCH_SIZE = batch
    seconds = time.perf_counter() - start
    m = metrics.evaluate_samples(gan_lab.sample(G_ema, n_eval, seed=2024), x_test[:n_eval])
    return {"name": name, "seconds": seconds, "min_share": float(min(m["histogram"])), **m}


def row(r: dict[str, Any]) -> str:
    """One markdown table row."""
    return (
        f"| {r['name']} | {r['fid_proxy']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | "
        f"{r['digits_present']}/10 | {r['min_share']:.3f} | {r['kl_to_uniform']:.3f} | {r['seconds']:.0f} |"
    )


def render(rows: list[dict[str, Any]], steps: int, n_eval: int, command: str) -> str:
    """The README section."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join(
        [
            HEADING,
            "",
            f"Lab 1's `train_gan` for {steps} steps from seed 0, one change per row against the lab's recipe "
            f"(`lab`), scored on {n_eval:,} samples of the weight-averaged generator against {n_eval:,} test digits "
            "with `utils.metrics` (the lab's targets: precision and recall at least 0.75, FID-proxy at most 72, "
            "10/10 digits with none under 5%, KL to uniform at most 0.05). Training seconds include the "
            "machine's load; compare them within the table only.",
            "",
            "| variant | FID-proxy | precision | recall | digits | smallest share | KL to uniform | train (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *(row(r) for r in rows),
            "",
            f"- **command:** `{command}` on {date.today().isoformat()}",
            f"- **machine:** {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
            f"load average {load:.1f} at the end, {platform.machine()}, torch {torch.__version__}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the variants, print rows as they finish, and with --write record the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="training steps per variant (the lab's full mode)")
    parser.add_argument("--eval", type=int, default=5000, help="samples (and test digits) per score")
    parser.add_argument("--only", nargs="*", default=None, help=f"variants to run, of: {', '.join(VARIANTS)}")
    parser.add_argument("--write", action="store_true", help="record the table in benchmarks/README.md")
    args = parser.parse_args(argv)
    names = args.only or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    x_train, _ = load_mnist(train=True, device=gan_lab.device)
    x_test, _ = load_mnist(train=False, device=gan_lab.device)
    rows = []
    for name in names:
        rows.append(run(name, x_train, x_test, args.steps, args.eval))
        print(row(rows[-1]), flush=True)
    command = "OMP_NUM_THREADS=1 python benchmarks/gan_sweep.py" + (f" --steps {args.steps}" if args.steps != 3000 else "")
    if args.only:
        command += " --only " + " ".join(f"'{n}'" if " " in n else n for n in args.only)
    section = render(rows, args.steps, args.eval, command + " --write")
    print("\n" + section)
    if args.write:
        replace_section(README, HEADING, section)
        print(f"updated {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
