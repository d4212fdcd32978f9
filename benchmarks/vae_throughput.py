"""Training throughput of lab 2's VAE: in-memory tensor batches versus a torchvision DataLoader.

    OMP_NUM_THREADS=1 python benchmarks/vae_throughput.py            # print the results
    OMP_NUM_THREADS=1 python benchmarks/vae_throughput.py --write    # also update benchmarks/README.md

Both loops train the same model with the same step, lab 2's own code (its `#| export` cells, in
`lab_code/vae_lab.py`): lab 2's MLP VAE: hidden layers of 512 units, one in the encoder
and two in the decoder, 20 latent dimensions, Adam, batch 128) on the same number of MNIST training images, one after the other in
one process on the same machine:

- tensors: the whole dataset as one tensor, batches sliced by utils.data.iterate_batches (the labs' way);
- DataLoader: torchvision.datasets.MNIST with transforms.ToTensor() and a shuffling DataLoader
  (num_workers=0), the textbook way.

It also times each data pipeline alone (no training), which isolates the loading overhead.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab_code import vae_lab  # noqa: E402 (lab 2's exported code)
from utils.config import data_root  # noqa: E402
from utils.data import iterate_batches, load_mnist  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
HEADING = "## Lab 2: VAE training throughput"


def tensor_batches(x: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """Batches sliced from the in-memory tensor, endlessly, reshuffled every pass."""
    while True:
        for (xb,) in iterate_batches(x, batch_size=batch_size):
            yield xb


def loader_batches(batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Batches from torchvision's MNIST dataset through a DataLoader, endlessly."""
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(str(data_root()), train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    while True:
        for xb, _ in loader:
            yield xb.to(device)


def timed(batches: Iterable[torch.Tensor], n_images: int, step=None, warmup: int = 5) -> float:
    """Images per second over n_images drawn from batches (after a few warm-up batches), training if step is given."""
    it = iter(batches)
    for _ in range(warmup):
        xb = next(it)
        if step is not None:
            step(xb)
    seen, start = 0, time.perf_counter()
    while seen < n_images:
        xb = next(it)
        if step is not None:
            step(xb)
        seen += len(xb)
    return seen / (time.perf_counter() - start)


def run(n_images: int, batch_size: int, device: torch.device, seed: int = 0) -> dict[str, float]:
    """All four measurements, in images per second."""
    x, _ = load_mnist(train=True, device=device)
    results = {}
    for name, make in (("tensors", lambda: tensor_batches(x, batch_size)), ("DataLoader", lambda: loader_batches(batch_size, device))):
        results[f"{name}, data only"] = timed(make(), n_images)
        torch.manual_seed(seed)
        model = vae_lab.VAE(hidden=vae_lab.HIDDEN, z_dim=vae_lab.Z_DIM).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=vae_lab.LR)
        results[f"{name}, training"] = timed(make(), n_images, lambda xb, m=model, o=optimizer: vae_lab.train_step(m, o, xb))
    return results


def environment(device: torch.device) -> str:
    """One line describing the machine and its load."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, load average {load:.1f} at the start, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"device {device}"
    )


def render(results: dict[str, float], command: str, env: str, n_images: int, batch_size: int) -> str:
    """The README section: a table of images per second and how it was measured."""
    lines = [
        HEADING,
        "",
        "Training throughput of lab 2's VAE (hidden layers of 512 units, one in the encoder and two in the "
        "decoder, 20 latent dimensions, Adam, batch "
        f"{batch_size}), measured by `benchmarks/vae_throughput.py` over {n_images:,} MNIST training images per "
        "row, one run, all rows in one process. *tensors*: the whole dataset as one tensor and batches sliced "
        "from it (`utils.data.iterate_batches`, what the labs do); *DataLoader*: `torchvision.datasets.MNIST` "
        "with `transforms.ToTensor()` through a shuffling `DataLoader` (`num_workers=0`).",
        "",
        "| pipeline | data only (images/s) | training (images/s) |",
        "|---|---:|---:|",
    ]
    for name in ("tensors", "DataLoader"):
        lines.append(f"| {name} | {results[f'{name}, data only']:,.0f} | {results[f'{name}, training']:,.0f} |")
    ratio = results["tensors, training"] / results["DataLoader, training"]
    lines += [
        "",
        f"Training with sliced tensors runs {ratio:.2f} times as fast as with the DataLoader.",
        "",
        f"- **command:** `{command}` on {date.today().isoformat()}",
        f"- **machine:** {env}",
        "",
    ]
    return "\n".join(lines)


def update_readme(path: Path, section: str) -> None:
    """Replace this benchmark's section of the README (or append it), keeping every other section."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\nPerformance measurements of the book.\n"
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and with --write record the results in benchmarks/README.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=60_000, help="images per measurement (default: one epoch)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write", action="store_true", help="update this benchmark's section of benchmarks/README.md")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    env = environment(device)
    results = run(args.images, args.batch_size, device)
    for name, value in results.items():
        print(f"{name:>22}: {value:10,.0f} images/s")
    command = "OMP_NUM_THREADS=1 python benchmarks/vae_throughput.py" + (f" --images {args.images}" if args.images != 60_000 else "")
    if args.device != "cpu":
        command += f" --device {args.device}"
    section = render(results, command + " --write", env, args.images, args.batch_size)
    if args.write:
        update_readme(README, section)
        print(f"updated {README.relative_to(ROOT)}")
    else:
        print("\n" + section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
