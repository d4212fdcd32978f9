"""Repository hygiene: ruff passes, student copies are current, utils has no import-time side effects."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import ROOT


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(__import__("pathlib").Path(sys.executable).with_name("ruff"))
    if not __import__("os").path.exists(ruff):
        pytest.skip("ruff is not installed")
    out = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


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
