"""utils.data: MNIST as tensors, a clear message when it is missing offline, batch slicing."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torchvision import datasets

from utils import data


@pytest.fixture(scope="module")
def mnist_test():
    return data.load_mnist(train=False)


def test_mnist_tensors_have_the_contract_shape(mnist_test):
    x, y = mnist_test
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (10000,) and y.dtype == torch.long
    assert 0.0 == x.min().item() and x.max().item() == 1.0
    assert set(y.unique().tolist()) == set(range(10))


def test_limit_and_device():
    x, y = data.load_mnist(train=True, limit=123, device="cpu")
    assert x.shape == (123, 1, 28, 28) and y.shape == (123,)
    assert x.device.type == "cpu"
    with pytest.raises(ValueError, match="positive"):
        data.load_mnist(limit=0)


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="mnist"):
        data.load_dataset("cifar10")


def test_missing_dataset_offline_says_what_to_do(monkeypatch, tmp_path):
    def offline(self):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("GENAI_DATA", str(tmp_path))
    monkeypatch.setattr(datasets.MNIST, "download", offline)
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load_mnist(train=False)
    message = str(err.value)
    assert "GENAI_DATA" in message and "t10k-images-idx3-ubyte" in message and str(tmp_path) in message
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no urllib traceback chained


def test_missing_fashion_mnist_offline_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_DATA", str(tmp_path))
    monkeypatch.setattr(datasets.FashionMNIST, "download", lambda self: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(data.DatasetUnavailableError, match="FashionMNIST"):
        data.load_fashion_mnist(train=False)


def test_iterate_batches_covers_every_item_once():
    x = torch.arange(10)
    y = torch.arange(10) * 2
    batches = list(data.iterate_batches(x, y, batch_size=4, generator=torch.Generator().manual_seed(0)))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[0] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() != list(range(10))  # shuffled
    for xb, yb in batches:
        assert torch.equal(yb, xb * 2)  # aligned


def test_iterate_batches_in_order_and_drop_last():
    x = torch.arange(10)
    batches = list(data.iterate_batches(x, batch_size=4, shuffle=False, drop_last=True))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert data.num_batches(10, 4) == 3 and data.num_batches(10, 4, drop_last=True) == 2


def test_iterate_batches_refuses_mismatched_tensors():
    with pytest.raises(ValueError, match="same first dimension"):
        list(data.iterate_batches(torch.zeros(3), torch.zeros(4), batch_size=2))
    with pytest.raises(ValueError, match="batch_size"):
        list(data.iterate_batches(torch.zeros(3), batch_size=0))
