"""A small sweep over lab 1's GAN recipe, each variant trained with the lab's own code and scored by utils.metrics.

    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py                   # every variant
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py --only lab sn     # some of them
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py --seeds 0 1 2     # each from 3 seeds
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/gan_sweep.py --write           # and record

Every variant runs lab 1's `train_gan` (from `lab_code/gan_lab.py`) for the same number of steps from the
same seed, changing one thing against the lab's recipe (or a named combination), and is judged like the
lab judges its model: FID-proxy, precision and recall against 5,000 test digits, digits present and the
smallest class share, KL of the class histogram to uniform, all from `utils.metrics`, on samples of the
weight-averaged generator; then again on samples drawn with the lab's rejection sampling (its
`finetune_discriminator` and `rejection_sample`, at the lab's settings). Rows print as they finish;
`--write` records the table in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readme_section import chosen_variants, publish, table_section  # noqa: E402

from lab_code import gan_lab  # noqa: E402 (lab 1's exported code)
from utils import config, metrics  # noqa: E402
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


def linear_head_discriminator(channels: int) -> nn.Module:
    """Lab 1's discriminator with one linear layer instead of its MLP head (the earlier recipe)."""
    D = gan_lab.Discriminator(channels)
    layers = list(D.net)
    i = next(i for i, m in enumerate(layers) if isinstance(m, nn.Flatten))
    D.net = nn.Sequential(*layers[: i + 1], nn.Linear(layers[i + 1].in_features, 1))
    return D


def shallow_discriminator(channels: int) -> nn.Module:
    """Lab 1's discriminator without its 3 x 3 convolution at 7 x 7."""
    D = gan_lab.Discriminator(channels)
    layers = list(D.net)
    i = next(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    D.net = nn.Sequential(*layers[:i], *layers[i + 3 :])  # drops Conv2d(2c, 2c, 3), its batch norm and activation
    return D


# name -> options (lr_g, lr_d, betas, channels, batch, real_label, sn, textbook_g, shallow_d, linear_head, float32)
VARIANTS: dict[str, dict[str, Any]] = {
    "lab": {},
    "lab in float32 (GENAI_BF16=0)": {"float32": True},
    "D with a linear head instead of the MLP": {"linear_head": True},
    "no label smoothing (real label 1)": {"real_label": 1.0},
    "Adam betas (0.5, 0.999) as in DCGAN": {"betas": (0.5, 0.999)},
    "the earlier recipe (linear head, betas (0.5, 0.999))": {"linear_head": True, "betas": (0.5, 0.999)},
    "textbook G (pixels from the last upsampling)": {"textbook_g": True},
    "D without the 3 x 3 layer at 7 x 7": {"shallow_d": True},
    "both (the earlier recipe)": {"textbook_g": True, "shallow_d": True},
    "lr 1e-3": {"lr_g": 1e-3, "lr_d": 1e-3},
    "lr G 1e-3, D 2e-3": {"lr_g": 1e-3, "lr_d": 2e-3},
    "lr D 4e-3 (twice G's)": {"lr_d": 4e-3},
    "c = 48": {"channels": 48},
    "batch 128": {"batch": 128},
    "sn": {"sn": True},
    "sn, lr G 1e-3, D 2e-3": {"sn": True, "lr_g": 1e-3, "lr_d": 2e-3},
    "c = 48, batch 128": {"channels": 48, "batch": 128},
}


def make_generator(opts: dict[str, Any], c: int) -> nn.Module:
    """The variant's generator: lab 1's, or the textbook DCGAN's."""
    return textbook_generator(c) if opts.get("textbook_g") else gan_lab.Generator(channels=c)


def make_discriminator(opts: dict[str, Any], c: int) -> nn.Module:
    """The variant's discriminator: lab 1's, or one of the changed designs above."""
    base: Callable[[int], nn.Module] = gan_lab.Discriminator
    if opts.get("shallow_d"):
        base = shallow_discriminator
    elif opts.get("linear_head"):
        base = linear_head_discriminator
    return spectral(base(c)) if opts.get("sn") else base(c)


@contextlib.contextmanager
def precision(opts: dict[str, Any]) -> Iterator[None]:
    """Inside: the lab's config.autocast() switched off for a float32 variant, untouched for the others."""
    switch = os.environ.get("GENAI_BF16")
    if opts.get("float32"):
        os.environ["GENAI_BF16"] = "0"
    try:
        yield
    finally:
        if switch is None:
            os.environ.pop("GENAI_BF16", None)
        else:
            os.environ["GENAI_BF16"] = switch


def run(name: str, x_train: torch.Tensor, x_test: torch.Tensor, steps: int, n_eval: int, seed: int = 0) -> dict[str, Any]:
    """Train one variant with lab 1's train_gan; score G_ema's samples, plain and rejection-sampled."""
    opts = VARIANTS[name]
    c = opts.get("channels", gan_lab.CHANNELS)

    saved = gan_lab.BATCH_SIZE, gan_lab.REAL_LABEL  # module settings that train_step reads
    gan_lab.BATCH_SIZE, gan_lab.REAL_LABEL = opts.get("batch", saved[0]), opts.get("real_label", saved[1])
    start = time.perf_counter()
    try:
        with precision(opts):
            _, D, G_ema, _, _ = gan_lab.train_gan(
                x_train, steps, lr_g=opts.get("lr_g", gan_lab.LR), lr_d=opts.get("lr_d", gan_lab.LR), desc=name,
                betas=opts.get("betas", gan_lab.BETAS), make_G=lambda: make_generator(opts, c),
                make_D=lambda: make_discriminator(opts, c), seed=seed,
            )  # fmt: skip
    finally:
        gan_lab.BATCH_SIZE, gan_lab.REAL_LABEL = saved
    seconds = time.perf_counter() - start
    real = x_test[:n_eval]
    m = metrics.evaluate_samples(gan_lab.sample(G_ema, n_eval, seed=2024), real)
    # the lab's rejection sampling, with its settings (batch size back to the lab's)
    D = gan_lab.finetune_discriminator(D, G_ema, x_train, gan_lab.DRS_STEPS)
    M = gan_lab.discriminator_logits(D, gan_lab.sample(G_ema, 64 * gan_lab.BATCH_SIZE, seed=7)).quantile(gan_lab.DRS_QUANTILE)
    drs = metrics.evaluate_samples(gan_lab.rejection_sample(G_ema, D, n_eval, M), real)
    label = name if seed == 0 else f"{name}, seed {seed}"
    return {"name": label, "seconds": seconds, "min_share": float(min(m["histogram"])), **m, "drs": drs}


def row(r: dict[str, Any]) -> str:
    """One markdown table row."""
    d = r["drs"]
    return (
        f"| {r['name']} | {r['fid_proxy']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | "
        f"{r['digits_present']}/10 | {r['min_share']:.3f} | {r['kl_to_uniform']:.3f} | "
        f"{d['fid_proxy']:.1f} | {d['precision']:.3f} | {d['recall']:.3f} | {d['digits_present']}/10 | "
        f"{min(d['histogram']):.3f} | {d['kl_to_uniform']:.3f} | {r['seconds']:.0f} |"
    )


def render(rows: list[dict[str, Any]], steps: int, n_eval: int, command: str) -> str:
    """The README section."""
    bf16 = "runs the steps' matrix products in bfloat16 (the CPU has AMX units)"
    number_format = bf16 if config.bf16_pays() else "changes nothing (float32)"
    intro = (
        f"Lab 1's `train_gan` for {steps} steps, one change per row against the lab's recipe (`lab`), from seed "
        f"0 unless the row names another. Each row is scored on {n_eval:,} samples against {n_eval:,} test digits "
        "with `utils.metrics`, first for samples of the weight-averaged generator, then (*RS*) for samples "
        "drawn with the lab's rejection sampling (its discriminator trained "
        f"{gan_lab.DRS_STEPS} more steps against the averaged generator, the cap $M$ at the "
        f"{gan_lab.DRS_QUANTILE} quantile of its logits). The lab's targets: precision and recall at least 0.75, "
        "FID-proxy at most 72, 10/10 digits with none under 5%, KL to uniform at most 0.05. The lab trains "
        f"inside `config.autocast()`, which on this machine {number_format}; a `float32` row turns it off. "
        "Training seconds include the machine's load; compare them within the table only."
    )
    columns = ["variant", "FID-proxy", "precision", "recall", "digits", "smallest share", "KL to uniform", "RS FID-proxy",
               "RS precision", "RS recall", "RS digits", "RS smallest share", "RS KL", "train (s)"]  # fmt: skip
    return table_section(HEADING, intro, columns, [row(r) for r in rows], command)


def main(argv: list[str] | None = None) -> int:
    """Run the variants, print rows as they finish, and with --write record the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--steps", type=int, default=gan_lab.STEPS, help="training steps per variant (default: lab 1's STEPS)")
    parser.add_argument("--eval", type=int, default=5000, help="samples (and test digits) per score")
    parser.add_argument("--only", nargs="*", default=None, help=f"variants to run, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0], help="training seeds, each variant from each")
    parser.add_argument("--write", action="store_true", help="record the table in benchmarks/README.md")
    args = parser.parse_args(argv)
    names = chosen_variants(parser, args.only, VARIANTS)
    x_train, _ = load_mnist(train=True, device=gan_lab.device)
    x_test, _ = load_mnist(train=False, device=gan_lab.device)
    rows = []
    for name in names:
        for seed in args.seeds:
            rows.append(run(name, x_train, x_test, args.steps, args.eval, seed))
            print(row(rows[-1]), flush=True)
    command = "OMP_NUM_THREADS=1 python benchmarks/gan_sweep.py" + (f" --steps {args.steps}" if args.steps != gan_lab.STEPS else "")
    if args.only:
        command += " --only " + " ".join(shlex.quote(n) for n in args.only)
    if args.seeds != [0]:
        command += " --seeds " + " ".join(map(str, args.seeds))
    section = render(rows, args.steps, args.eval, command + " --write")
    publish(README, HEADING, section, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
