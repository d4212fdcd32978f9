"""Every notebook: the same setup cell naming the book's repository, stored without outputs, well formed."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from helpers import ALL_NOTEBOOKS, ROOT, SOURCE_NOTEBOOKS, book_config, cell_source, read_notebook

SETUP_CELL = (ROOT / "scripts" / "setup_cell.py").read_text().rstrip("\n")
IDS = [p.relative_to(ROOT).as_posix() for p in ALL_NOTEBOOKS]


def first_code_cell(nb: dict) -> str:
    """Source of the first code cell."""
    return next(cell_source(c) for c in nb["cells"] if c["cell_type"] == "code")


def test_there_are_notebooks():
    assert (ROOT / "lectures" / "00_getting_started.ipynb") in SOURCE_NOTEBOOKS


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=IDS)
def test_setup_cell_is_the_canonical_one(path):
    assert first_code_cell(read_notebook(path)).rstrip("\n") == SETUP_CELL, (
        f"{path.name}: the first code cell differs from scripts/setup_cell.py; "
        "run `python scripts/normalize_notebooks.py` after putting `# SETUP` there"
    )


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in SOURCE_NOTEBOOKS])
def test_setup_cell_is_folded_on_the_website(path):
    cell = next(c for c in read_notebook(path)["cells"] if c["cell_type"] == "code")
    assert "hide-input" in cell["metadata"].get("tags", []), f"{path.name}: run `python scripts/normalize_notebooks.py`"


def test_setup_cell_names_the_book_repository():
    url = re.search(r'REPO_URL = "([^"]+)"', SETUP_CELL).group(1)
    assert url == book_config()["repository"]["url"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    for i, cell in enumerate(read_notebook(path)["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=IDS)
def test_notebook_is_well_formed(path):
    nb = read_notebook(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and cell_source(first).startswith("# "), f"{path.name} needs a # title"
    code = [cell_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "seed_everything(" in "\n".join(code[1:3]), f"{path.name}: seed with config.seed_everything right after setup"
    assert "GENAI_FAST" not in "\n".join(code), f"{path.name}: read fast mode through utils.config, not the environment"


def test_setup_cell_finds_the_helpers_from_a_subfolder(tmp_path):
    """Run the setup cell with a notebook folder as working directory, as nbval and the book build do."""
    probe = SETUP_CELL + "\nimport utils.config\nprint(utils.config.REPO_ROOT)\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "lectures", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(ROOT)


def test_a_notebook_that_raises_fails_the_tests(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": "raise ValueError('planted failure')"}
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(nb))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode != 0, "nbval passed a notebook that raises"
    assert "planted failure" in out.stdout
