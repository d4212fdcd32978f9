"""Repository hygiene: ruff passes, student copies are current, utils has no import-time side effects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT


def _ruff() -> str:
    """The ruff next to this Python, or on PATH."""
    ruff = Path(sys.executable).with_name("ruff")
    found = str(ruff) if ruff.exists() else shutil.which("ruff")
    if not found:
        pytest.fail("ruff is not installed: run `python -m pip install -r requirements.txt`")
    return found


def test_ruff_is_clean():
    out = subprocess.run([_ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_python_files_are_formatted():
    out = subprocess.run([_ruff(), "format", "--check", "--exclude", "*.ipynb", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, "run `ruff format --exclude '*.ipynb' .`:\n" + out.stdout + out.stderr


def test_student_copies_are_current():
    out = subprocess.run([sys.executable, "-m", "utils.assignments", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_importing_utils_has_no_side_effects(tmp_path):
    code = (
        "import sys, os; sys.path.insert(0, sys.argv[1]);"
        "import utils, utils.config, utils.data, utils.artifacts, utils.plotting, utils.progress, utils.metrics;"
        "import utils.assignments, utils.checks.core;"
        "print(sorted(os.listdir('.')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", "importing utils wrote files"
    assert not (tmp_path / "data").exists() and not (tmp_path / "artifacts").exists()
