"""Training throughput of Lab 1's GAN: batches sliced from in-memory tensors vs a torchvision DataLoader.

    OMP_NUM_THREADS=1 GENAI_DATA=/path/to/data python benchmarks/gan_throughput.py [--steps 300] [--device cpu]

Both loops train the same model with the same step, lab 1's own code (its `#| export` cells, in
`lab_code/gan_lab.py`: the DCGAN, `dcgan_init`, `train_step`), with the same batch size for the same number of
steps, after a few warm-up steps; the script prints one markdown table row per loop.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab_code import gan_lab  # noqa: E402 (lab 1's exported code)
from utils.config import data_root, get_device  # noqa: E402
from utils.data import iterate_batches, load_mnist  # noqa: E402

C, BATCH_SIZE = gan_lab.CHANNELS, gan_lab.BATCH_SIZE


def run(batches, steps: int, warmup: int, device: torch.device, channels: int = C) -> tuple[float, float]:
    """Train warmup + steps steps on batches (an iterator factory); return images per second and per CPU-second."""
    torch.manual_seed(0)
    G, D = gan_lab.Generator(channels=channels).to(device), gan_lab.Discriminator(channels).to(device)
    G.apply(gan_lab.dcgan_init)
    D.apply(gan_lab.dcgan_init)
    opt_G = torch.optim.Adam(G.parameters(), gan_lab.LR, betas=gan_lab.BETAS)
    opt_D = torch.optim.Adam(D.parameters(), gan_lab.LR, betas=gan_lab.BETAS)
    done, images, start, cpu_start = 0, 0, 0.0, 0.0
    while done < warmup + steps:
        for x in batches():
            if done == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start, cpu_start, images = time.perf_counter(), time.process_time(), 0
            x = x.to(device, non_blocking=True)
            z = torch.randn(x.shape[0], gan_lab.Z_DIM, device=device)
            gan_lab.train_step(G, D, opt_G, opt_D, x, z)
            images += x.shape[0]
            done += 1
            if done == warmup + steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return images / (time.perf_counter() - start), images / (time.process_time() - cpu_start)


def main() -> None:
    """Time both loops and print markdown rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="timed training steps per loop")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: what utils.config picks)")
    parser.add_argument("--channels", type=int, default=C, help="channel width c of both networks (the lab uses 32)")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else get_device()

    x_train, _ = load_mnist(train=True, device=device)
    in_memory = run(
        lambda: (b for (b,) in iterate_batches(x_train, batch_size=BATCH_SIZE, drop_last=True)),
        args.steps,
        args.warmup,
        device,
        args.channels,
    )

    from torchvision import datasets, transforms

    dataset = datasets.MNIST(str(data_root()), train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, drop_last=True, pin_memory=device.type == "cuda")
    data_loader = run(lambda: (b for b, _ in loader), args.steps, args.warmup, device, args.channels)

    where = f"{device.type}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, {platform.machine()}"
    print("| loop | device | model | batch | steps | images/s | images per CPU-second |")
    print("|---|---|---|---|---|---|---|")
    for name, (wall, cpu) in (
        ("in-memory tensor, sliced batches (the lab)", in_memory),
        ("torchvision `DataLoader` (`MNIST` + `ToTensor`)", data_loader),
    ):
        print(f"| {name} | {where} | c = {args.channels} | {BATCH_SIZE} | {args.steps} | {wall:.0f} | {cpu:.0f} |")
    print(f"\nspeed-up of the in-memory loop: {in_memory[0] / data_loader[0]:.2f}x (wall), {in_memory[1] / data_loader[1]:.2f}x (CPU time)")


if __name__ == "__main__":
    main()
