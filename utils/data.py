"""Datasets as whole tensors on a device, and batches sliced from them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from utils.config import data_root

_DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
FASHION_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")


class DatasetUnavailableError(RuntimeError):
    """Raised when a dataset is neither on disk nor downloadable; the message says what to do."""


def _torchvision_dataset(name: str, root: Path, train: bool):
    """Open a torchvision dataset from root, downloading it only when it is missing."""
    from torchvision import datasets  # imported here: importing utils stays cheap

    cls = getattr(datasets, _DATASETS[name])
    try:
        return cls(str(root), train=train, download=False)
    except RuntimeError:
        pass  # not on disk yet: try to download it below
    try:
        return cls(str(root), train=train, download=True)
    except Exception as err:  # offline, a read-only root, a broken mirror...
        folder = root / _DATASETS[name] / "raw"
        raise DatasetUnavailableError(
            f"{_DATASETS[name]} is not in {folder} and could not be downloaded ({type(err).__name__}: {err}). "
            f"Put the four {_DATASETS[name]} IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) in <root>/{_DATASETS[name]}/raw/ and point "
            f"GENAI_DATA at <root> (now {root}), or run once with internet access."
        ) from None


def load_dataset(
    name: str = "mnist", *, train: bool = True, device: torch.device | str = "cpu", limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (x, y): images [N, 1, 28, 28] float in [0, 1] and labels [N] long, on device."""
    key = name.lower().replace("_", "-")
    if key not in _DATASETS:
        raise ValueError(f"Unknown dataset {name!r}: use one of {sorted(_DATASETS)}.")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}.")
    ds = _torchvision_dataset(key, data_root(), train)
    images, labels = ds.data, ds.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.to(device).unsqueeze(1).float().div_(255.0)  # [N, 28, 28] uint8 -> [N, 1, 28, 28] float
    y = torch.as_tensor(labels).to(device).long()
    return x, y


def load_mnist(*, train: bool = True, device: torch.device | str = "cpu", limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST digits as (x [N, 1, 28, 28] in [0, 1], y [N]) on device."""
    return load_dataset("mnist", train=train, device=device, limit=limit)


def load_fashion_mnist(
    *, train: bool = True, device: torch.device | str = "cpu", limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST clothes as (x [N, 1, 28, 28] in [0, 1], y [N]) on device."""
    return load_dataset("fashion-mnist", train=train, device=device, limit=limit)


def iterate_batches(
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield aligned batches sliced from in-memory tensors, in a new random order each call when shuffle."""
    if not tensors:
        raise ValueError("iterate_batches needs at least one tensor.")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"All tensors must have the same first dimension, got {[t.shape[0] for t in tensors]}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    device = tensors[0].device
    if shuffle:
        order = torch.randperm(n, generator=generator, device="cpu").to(device)
    else:
        order = torch.arange(n, device=device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(t[idx] for t in tensors)


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Number of batches iterate_batches yields for n items."""
    return n // batch_size if drop_last else -(-n // batch_size)
