"""scripts/build_book.py: the execution cache never serves results made in another mode or with other helpers.

A tiny book whose one notebook logs every execution (and its mode) is built four times: fast, fast again
(nothing runs), full (runs again, and the page shows full-mode output), and full after a change to a file
of `utils/` (runs again).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Probe"},
        {
            "cell_type": "code",
            "id": "probe",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": (
                "from utils import config\n"
                "mode = 'fast' if config.fast_mode() else 'full'\n"
                "with open('runs.log', 'a') as log:\n    log.write(mode + '\\n')\n"
                "print('MODE-' + mode)"
            ),
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _tiny_book(book: Path) -> None:
    """A book with one notebook and a copy of utils/."""
    book.mkdir()
    shutil.copytree(ROOT / "utils", book / "utils", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    (book / "requirements.txt").write_text("torch\n")
    (book / "_config.yml").write_text(
        "title: Probe\nonly_build_toc_files: true\nexclude_patterns: [utils, _build]\n"
        "execute:\n  execute_notebooks: cache\n  run_in_temp: false\n"
    )
    (book / "_toc.yml").write_text("format: jb-book\nroot: probe\n")
    (book / "probe.ipynb").write_text(json.dumps(NOTEBOOK))


def _build(book: Path, fast: bool) -> str:
    """Build the tiny book; return the built page's text."""
    env = {**os.environ, "GENAI_FAST": "1" if fast else "0", "GENAI_DEVICE": "cpu"}
    env.pop("MPLBACKEND", None)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(book)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return (book / "_build" / "html" / "probe.html").read_text(encoding="utf-8")


def _runs(book: Path) -> list[str]:
    """The modes of the executions so far."""
    log = book / "runs.log"
    return log.read_text().split() if log.is_file() else []


@pytest.mark.book
def test_a_build_never_reuses_results_made_under_other_conditions(tmp_path):
    book = tmp_path / "book"
    _tiny_book(book)
    assert "MODE-fast" in _build(book, fast=True) and _runs(book) == ["fast"]
    assert "MODE-fast" in _build(book, fast=True) and _runs(book) == ["fast"], "an unchanged rebuild executed"
    page = _build(book, fast=False)
    assert _runs(book) == ["fast", "full"], "a full build after a fast one did not execute"
    assert "MODE-full" in page and "MODE-fast" not in page, "the full build shows fast-mode output"
    with open(book / "utils" / "config.py", "a") as f:
        f.write("\n# an edit of the helpers\n")
    _build(book, fast=False)
    assert _runs(book) == ["fast", "full", "full"], "a change to utils/ did not execute again"


def test_conditions_tell_modes_and_helpers_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_DEVICE", "cpu")
    monkeypatch.setenv("GENAI_FAST", "1")
    fast = build_book.conditions(ROOT)
    monkeypatch.setenv("GENAI_FAST", "0")
    full = build_book.conditions(ROOT)
    assert fast["mode"] == "fast" and full["mode"] == "full" and fast["device"] == "cpu"
    assert build_book.cache_name(fast) != build_book.cache_name(full)
    assert build_book.cache_name(fast).startswith("fast-cpu-")
    assert build_book.cache_name({**full, "utils": "other"}) != build_book.cache_name(full)
    assert build_book.cache_name({**full, "packages": "other"}) != build_book.cache_name(full)
    config = build_book.build_config(ROOT, tmp_path / "cache")
    assert config["execute"]["cache"] == str(tmp_path / "cache") and config["title"]


def _notebook(code: str) -> dict:
    """A one-cell notebook."""
    return {**NOTEBOOK, "cells": [NOTEBOOK["cells"][0], {**NOTEBOOK["cells"][1], "source": code}]}


def test_parallel_execution_runs_artifact_loaders_after_the_savers(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").write_text("format: jb-book\nroot: loader\nchapters:\n  - file: saver\n  - file: other\n")
    saver = "import time\ntime.sleep(4)\nopen('made.txt', 'w').write('x')  # artifacts.save_json(...)"
    loader = "# artifacts.load_json(...)\nassert open('made.txt').read() == 'x', 'ran before the saver'"
    for name, code in (("saver", saver), ("loader", loader), ("other", "print(1)")):
        (book / f"{name}.ipynb").write_text(json.dumps(_notebook(code)))
    config = {"execute": {"execute_notebooks": "cache", "timeout": 120}}
    cache = tmp_path / "cache"
    assert build_book.pre_execute(book, config, cache, jobs=2) == []
    from jupyter_cache import get_cache

    assert len(get_cache(str(cache)).list_cache_records()) == 3
    assert build_book.pre_execute(book, config, cache, jobs=2) == [], "a second run executed again"


def test_help_prints_the_usage_and_builds_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """`--help` explains the script and jupyter-book's options instead of starting a whole-book build."""
    before = set((ROOT / "_build").glob("*")) if (ROOT / "_build").exists() else set()
    assert build_book.main(["--help"]) == 0
    out = capfd.readouterr().out
    assert "Usage: python scripts/build_book.py" in out and "--keep-going" in out
    after = set((ROOT / "_build").glob("*")) if (ROOT / "_build").exists() else set()
    assert after == before


def test_start_order_puts_savers_first_then_the_slowest_last_time(tmp_path: Path) -> None:
    """The notebooks that head the chain start first; among the others, last run's slowest, then the biggest."""
    from types import SimpleNamespace

    paths = {name: tmp_path / f"{name}.ipynb" for name in ("small", "big", "slow", "saver")}
    for name, path in paths.items():
        path.write_text("x" * (1000 if name == "big" else 10))
    records = [SimpleNamespace(uri=str(paths["slow"]), data={"execution_seconds": 50.0}, created=1)]
    cache = SimpleNamespace(list_cache_records=lambda: records)
    order = build_book.start_order(list(paths.values()), {paths["saver"]}, cache)
    assert [p.stem for p in order] == ["saver", "slow", "big", "small"]
