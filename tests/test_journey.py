"""The student journey: labs 1 and 2 done with designs of the student's own, each in a runtime of its own, then lab 3.

Each lab runs, in fast mode, in a separate working folder holding only the notebook and a copy of the course
helpers (as a Colab runtime clones them), and the three share nothing but one artifacts folder (as three Colab
runtimes share a Google Drive folder). Lab 1's generator is an MLP and lab 2's decoder is convolutional, neither
of them the solution's design; lab 3 must say, in its first output about each model, that it loaded exactly those.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import torch
from helpers import ROOT, cell_source
from nbclient import NotebookClient
from torch import nn

MLP_GENERATOR = '''class MLPGenerator(nn.Module):
    """A student's own design: an MLP from noise to pixels."""

    def __init__(self, z_dim: int = Z_DIM, channels: int = CHANNELS):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, 8 * channels), nn.BatchNorm1d(8 * channels), nn.ReLU(),
            nn.Linear(8 * channels, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)),
        )

    def forward(self, z):
        return self.net(z)


Generator = MLPGenerator'''

CONV_DECODER = '''class ConvDecoder(nn.Module):
    """A student's own design: transposed convolutions from a 7 x 7 stack of feature maps."""

    def __init__(self, z_dim: int = 20, hidden: int = 512, x_dim: int = 784):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1),
        )

    def forward(self, z):
        return self.net(z)


Decoder = ConvDecoder'''


def _runtime(base: Path, name: str, notebook: str, replace: dict[str, str]) -> tuple[Path, nbformat.NotebookNode]:
    """A working folder with the notebook (the cells defining `replace`'s classes swapped) and a clone of the helpers."""
    folder = base / name
    clone = folder / "genai-foundations"
    for part in ("utils", "lab_code"):
        shutil.copytree(ROOT / part, clone / part, ignore=shutil.ignore_patterns("__pycache__"))
    nb = nbformat.read(ROOT / "labs" / "solutions" / notebook, as_version=4)
    for marker, code in replace.items():
        (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in cell_source(c)]
        cell.source = code
    return folder, nb


def _run(folder: Path, nb: nbformat.NotebookNode) -> str:
    """Execute a notebook in its folder; return everything it printed."""
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _parameters(code: str, cls: str, *args: int) -> int:
    """Parameter count of a class defined by code, built with args."""
    space = {"nn": nn, "torch": torch, "Z_DIM": 64, "CHANNELS": 32}
    exec(code, space)  # noqa: S102 (the test's own code)
    return sum(p.numel() for p in space[cls](*args).parameters())


def test_lab_3_compares_the_students_own_models_across_separate_runtimes(tmp_path, monkeypatch):
    shared = tmp_path / "drive"
    monkeypatch.setenv("GENAI_ARTIFACTS", str(shared))
    monkeypatch.setenv("GENAI_FAST", "1")
    monkeypatch.delenv("GENAI_REQUIRE_ARTIFACTS", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    assert os.environ.get("GENAI_DATA"), "the journey needs MNIST: set GENAI_DATA"

    out1 = _run(*_runtime(tmp_path, "runtime-1", "01_gan_lab.ipynb", {"class Generator(": MLP_GENERATOR}))
    assert "[PASS] generator" in out1, out1[-3000:]
    out2 = _run(*_runtime(tmp_path, "runtime-2", "02_vae_lab.ipynb", {"class Decoder(": CONV_DECODER}))
    assert "[PASS] decoder" in out2, out2[-3000:]
    folder, nb = _runtime(tmp_path, "runtime-3", "03_gan_vs_vae.ipynb", {})
    assert not (folder / "artifacts").exists()
    out3 = _run(folder, nb)

    gan = re.search(r"^GAN: (.*)$", out3, re.MULTILINE).group(1)
    vae = re.search(r"^VAE: (.*)$", out3, re.MULTILINE).group(1)
    n_gan = _parameters(MLP_GENERATOR, "MLPGenerator")
    assert gan.startswith(f"your lab 1 GAN (MLPGenerator, {n_gan:,} parameters, fast mode, "), gan
    assert vae.startswith("your lab 2 VAE (Encoder + ConvDecoder, "), vae
    assert "stand-in" not in out3
    assert sorted(p.name for p in (shared / "fast").iterdir()) == ["gan", "vae"], "the labs wrote elsewhere than the shared folder"
    for runtime in ("runtime-1", "runtime-2", "runtime-3"):
        assert not (tmp_path / runtime / "genai-foundations" / "artifacts").exists(), f"{runtime} kept models in its own folder"


def test_lab_3_names_a_stand_in_and_why_when_a_model_is_missing(tmp_path, monkeypatch):
    """A student's quick look without lab 2: lab 3 says it trains a stand-in, and what to do about it."""
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "empty"))
    monkeypatch.setenv("GENAI_FAST", "1")
    monkeypatch.delenv("GENAI_REQUIRE_ARTIFACTS", raising=False)
    folder, nb = _runtime(tmp_path, "runtime", "03_gan_vs_vae.ipynb", {})
    stop = next(i for i, c in enumerate(nb.cells) if "def draw(" in cell_source(c))
    nb.cells = nb.cells[:stop]  # up to the loading: the rest needs no second run here
    out = _run(folder, nb)
    assert re.search(r"^GAN: a stand-in trained here, because gan/model\.json \(fast mode\) is not in .*Run lab 1", out, re.MULTILINE), out
    assert re.search(r"^VAE: a stand-in trained here, because .*Run lab 2", out, re.MULTILINE), out


def test_lab_3_refuses_a_stand_in_in_a_book_build(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "empty"))
    monkeypatch.setenv("GENAI_FAST", "1")
    monkeypatch.setenv("GENAI_REQUIRE_ARTIFACTS", "1")  # as scripts/build_book.py sets it
    folder, nb = _runtime(tmp_path, "runtime", "03_gan_vs_vae.ipynb", {})
    stop = next(i for i, c in enumerate(nb.cells) if "def draw(" in cell_source(c))
    nb.cells = nb.cells[:stop]
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match=r"ArtifactMissingError.*gan/model\.json"):
        _run(folder, nb)
