"""Repository hygiene: ruff passes, student copies are current, utils has no import-time side effects."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, SOURCE_NOTEBOOKS, cell_source


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


def test_source_notebooks_are_formatted():
    """The notebooks written by hand; their student copies are generated (stubs in single quotes), so not these."""
    paths = [p.relative_to(ROOT).as_posix() for p in SOURCE_NOTEBOOKS]
    out = subprocess.run([_ruff(), "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"run `ruff format {' '.join(paths)}`:\n" + out.stdout + out.stderr


def test_student_copies_are_current():
    out = subprocess.run([sys.executable, "scripts/assignments.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_assignment_tool_finds_the_repository_without_torch():
    """The instructors' tool starts without loading the course's run-time stack (torch comes in through utils.config)."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); import assignments; print(assignments.ROOT, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "scripts")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(ROOT), "False"], out.stdout


def test_importing_utils_has_no_side_effects(tmp_path):
    code = (
        "import sys, os; sys.path.insert(0, sys.argv[1]);"
        "import utils, utils.config, utils.data, utils.artifacts, utils.plotting, utils.progress, utils.metrics;"
        "import utils.checks.core;"
        "print(sorted(os.listdir('.')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", "importing utils wrote files"
    assert not (tmp_path / "data").exists() and not (tmp_path / "artifacts").exists()


LAB_CODE = re.compile(
    r"^\s*(class (Generator|Discriminator|MinibatchStd|Encoder|Decoder|VAE)\b"
    r"|def (dcgan_init|update_ema|discriminator_loss|generator_loss|vae_loss|train_step)\b)",
    re.MULTILINE,
)


@pytest.mark.parametrize("path", ["labs/solutions/03_gan_vs_vae.ipynb", "benchmarks/loop_ratios.py"])
def test_lab_models_are_defined_once(path):
    """Lab 3 and the benchmarks import the models, losses and steps that labs 1 and 2 teach (lab_code/), never a copy."""
    file = ROOT / path
    if file.suffix == ".ipynb":
        cells = json.loads(file.read_text(encoding="utf-8"))["cells"]
        text = "\n".join(cell_source(c) for c in cells if c["cell_type"] == "code")
    else:
        text = file.read_text(encoding="utf-8")
    copies = [m.group(1).strip() for m in LAB_CODE.finditer(text)]
    assert not copies, f"{path} defines {copies} again: import them from lab_code (labs 1 and 2's `#| export` cells)"
    assert "from lab_code import" in text, f"{path} does not use lab_code"
