"""Training throughput of Lab 1's GAN: batches sliced from in-memory tensors vs a torchvision DataLoader.

    OMP_NUM_THREADS=1 GENAI_DATA=/path/to/data python benchmarks/gan_throughput.py [--steps 300] [--device cpu]

Both loops train the same model (the lab's small DCGAN) with the same batch size for the same number of
steps, after a few warm-up steps; the script prints one markdown table row per loop.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.config import data_root, get_device  # noqa: E402
from utils.data import iterate_batches, load_mnist  # noqa: E402

Z_DIM, C, BATCH_SIZE = 64, 32, 64


class MinibatchStd(nn.Module):
    """Append the batch's feature spread as one channel (as in the lab)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, C + 1, H, W]."""
        return torch.cat([h, h.std(dim=0).mean().expand(h.shape[0], 1, *h.shape[2:])], dim=1)


def make_models(C: int = C) -> tuple[nn.Module, nn.Module]:  # noqa: N803 (the lab's channel width c)
    """The lab's generator and discriminator (its Exercises 1 and 2) with channel width C."""
    G = nn.Sequential(
        nn.Linear(Z_DIM, 2 * C * 49),
        nn.Unflatten(1, (2 * C, 7, 7)),
        nn.BatchNorm2d(2 * C),
        nn.ReLU(),
        nn.ConvTranspose2d(2 * C, C, 4, 2, 1),
        nn.BatchNorm2d(C),
        nn.ReLU(),
        nn.ConvTranspose2d(C, 1, 4, 2, 1),
        nn.Sigmoid(),
    )
    D = nn.Sequential(
        nn.Conv2d(1, C, 4, 2, 1),
        nn.LeakyReLU(0.2),
        MinibatchStd(),
        nn.Conv2d(C + 1, 2 * C, 4, 2, 1),
        nn.BatchNorm2d(2 * C),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(2 * C * 49, 1),
    )
    return G, D


def run(batches, steps: int, warmup: int, device: torch.device, channels: int = C) -> tuple[float, float]:
    """Train warmup + steps steps on batches (an iterator factory); return images per second and per CPU-second."""
    torch.manual_seed(0)
    G, D = make_models(channels)
    G, D = G.to(device), D.to(device)
    opt_G = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    done, images, start, cpu_start = 0, 0, 0.0, 0.0
    while done < warmup + steps:
        for x in batches():
            if done == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start, cpu_start, images = time.perf_counter(), time.process_time(), 0
            x = x.to(device, non_blocking=True)
            z = torch.randn(x.shape[0], Z_DIM, device=device)
            fake = G(z)
            real_logits, fake_logits = D(2 * x - 1), D(2 * fake.detach() - 1)
            d_loss = F.binary_cross_entropy_with_logits(
                real_logits, torch.full_like(real_logits, 0.9)
            ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            opt_D.zero_grad()
            d_loss.backward()
            opt_D.step()
            out = D(2 * fake - 1)
            g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()
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
