"""Fixtures shared by the tests: a strict build of the whole book, made once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import ROOT  # noqa: E402

BOOK_OUT = ROOT / "_build" / "test-book"  # kept between runs: its execution cache only ever holds fast-mode runs


@dataclass
class BookBuild:
    """The outcome of one `jupyter-book build`."""

    returncode: int
    log: str
    html: Path


def jupyter_book() -> list[str]:
    """The jupyter-book command next to this Python, or on PATH."""
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if not found:
        pytest.fail("jupyter-book is not installed: run `python -m pip install -r requirements.txt`.")
    return [found]


def build_book(source: Path, out: Path, timeout: int = 1800) -> BookBuild:
    """Build a book strictly (warnings as errors, nitpicky, keep going) in fast mode."""
    env = {**os.environ, "GENAI_FAST": os.environ.get("GENAI_FAST", "1")}
    cmd = [*jupyter_book(), "build", str(source), "--path-output", str(out), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return BookBuild(proc.returncode, proc.stdout + proc.stderr, out / "_build" / "html")


@pytest.fixture(scope="session")
def built_book() -> BookBuild:
    """The whole book, built strictly once per test session."""
    return build_book(ROOT, BOOK_OUT)
