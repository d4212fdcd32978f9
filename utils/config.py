"""Run-time settings every notebook shares: fast mode, device, precision, seeds and folders."""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_last_seed: int | None = None


def fast_mode() -> bool:
    """Return True when GENAI_FAST asks for the quick, shrunken run of every notebook."""
    value = os.environ.get("GENAI_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"GENAI_FAST={value!r} is not understood: set it to 1 (fast mode) or 0 / unset (full mode).")


def pick(full: T, fast: T) -> T:
    """Return `fast` in fast mode and `full` otherwise (epochs, subset sizes, sample counts)."""
    return fast if fast_mode() else full


def fast_note(text: str) -> None:
    """In fast mode only, show text as a visible note: this short run cannot show what the page describes."""
    if not fast_mode():
        return
    try:
        from IPython.display import Markdown, display
    except ImportError:  # plain Python: print it
        print(f"Fast mode: {text}")
        return
    display(Markdown(f"> **Fast mode.** {text}"))


class ClaimNotSupported(AssertionError):
    """A full-mode run whose results no longer support what its page's text says."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback."""
        return [f"ClaimNotSupported: {self}"]


def claim(holds: bool, text: str, shown: str = "") -> None:
    """In full mode, stop with a message naming the claim when the run does not support it (nothing to show)."""
    if holds or fast_mode():
        return
    raise ClaimNotSupported(
        f"the text says {text!r}, but this full-mode run shows {shown or 'otherwise'}. "
        "Run the notebook again (another seed or device can change a result); if it persists, "
        "the recipe or the text needs changing."
    )


def get_device() -> torch.device:
    """Pick CUDA, then Apple MPS, then CPU; GENAI_DEVICE overrides the choice."""
    wanted = os.environ.get("GENAI_DEVICE", "").strip().lower()
    if wanted:
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_pays(device: torch.device | None = None) -> bool:
    """True where bfloat16 autocast speeds up training (a CPU with AMX matrix units); GENAI_BF16=1 or 0 decides instead."""
    value = os.environ.get("GENAI_BF16", "").strip().lower()
    if value in _TRUE:
        return True
    if value and value in _FALSE:
        return False
    if value:
        raise ValueError(f"GENAI_BF16={value!r} is not understood: set it to 1 (bfloat16 autocast), 0 (float32) or unset.")
    has_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # absent in older torch
    return (device or get_device()).type == "cpu" and has_amx is not None and bool(has_amx())


def autocast(device: torch.device | None = None) -> contextlib.AbstractContextManager:
    """A context for training steps: bfloat16 autocast where bf16_pays, otherwise one that changes nothing."""
    device = device or get_device()
    if not bf16_pays(device):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and torch (all devices) with one number and return it."""
    global _last_seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators
    _last_seed = seed
    return seed


def data_root() -> Path:
    """Folder holding the datasets: GENAI_DATA, or data/ at the repository root."""
    return Path(os.environ.get("GENAI_DATA") or REPO_ROOT / "data").expanduser().resolve()


def artifacts_root() -> Path:
    """Folder where labs save models and samples: GENAI_ARTIFACTS, or artifacts/ at the repository root."""
    return Path(os.environ.get("GENAI_ARTIFACTS") or REPO_ROOT / "artifacts").expanduser().resolve()


def shown_path(path: Path, variable: str) -> str:
    """A folder as a page may show it: relative to the repository, else named by its variable (no machine paths)."""
    path = Path(path).resolve()
    if path.is_relative_to(REPO_ROOT):
        return f"{path.relative_to(REPO_ROOT).as_posix()}/ (in the repository)"
    return f"${variable} (a folder outside the repository)"


def describe() -> str:
    """One line naming the device, the mode and the last seed, for the top of every notebook."""
    mode = "fast (GENAI_FAST=1)" if fast_mode() else "full"
    seed = "not set" if _last_seed is None else str(_last_seed)
    return f"device: {get_device()} | mode: {mode} | seed: {seed} | torch {torch.__version__}"
