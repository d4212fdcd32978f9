"""The book builds strictly, its notebook pages carry Colab links, and a notebook that raises fails the build."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from helpers import ROOT, SOURCE_NOTEBOOKS, book_config, toc_files

from conftest import build_book


def test_book_builds_strictly(built_book):
    tail = "\n".join(built_book.log.splitlines()[-40:])
    assert built_book.returncode == 0, f"jupyter-book build failed:\n{tail}"
    assert (built_book.html / "intro.html").is_file()


def test_every_source_notebook_is_in_the_book():
    listed = set(toc_files())
    for nb in SOURCE_NOTEBOOKS:
        rel = nb.relative_to(ROOT).with_suffix("").as_posix()
        assert rel in listed, f"{rel} is missing from _toc.yml"


def test_notebook_pages_link_to_colab(built_book):
    repo = book_config()["repository"]["url"].removeprefix("https://github.com/")
    for nb in SOURCE_NOTEBOOKS:
        rel = nb.relative_to(ROOT).with_suffix("")
        page = (built_book.html / rel).with_suffix(".html")
        assert page.is_file(), f"{page} was not built"
        links = re.findall(r'https://colab\.research\.google\.com/github/[^"\']+', page.read_text(encoding="utf-8"))
        expected = f"https://colab.research.google.com/github/{repo}/blob/main/{rel.as_posix()}.ipynb"
        assert expected in links, f"{page.name}: no Colab link to {expected}; found {links}"


def test_executed_pages_show_no_errors(built_book):
    for nb in SOURCE_NOTEBOOKS:
        page = (built_book.html / nb.relative_to(ROOT).with_suffix("")).with_suffix(".html")
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, f"{page.name} shows a traceback"


def _tiny_book(tmp_path: Path, code: str) -> Path:
    """A one-notebook book using the real book's settings."""
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copytree(ROOT / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "references.bib").write_text((ROOT / "references.bib").read_text())
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: page\n")
    (book / "index.md").write_text("# Tiny\n\nA test book.\n")
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Page\n\nText."},
            {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": code},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (book / "page.ipynb").write_text(json.dumps(nb))
    return book


def test_a_notebook_that_raises_fails_the_build(tmp_path):
    bad = build_book(_tiny_book(tmp_path, "raise RuntimeError('planted failure')"), tmp_path / "out", timeout=600)
    assert bad.returncode != 0, "the build passed although a notebook raised"
    report = tmp_path / "out" / "_build" / "html" / "reports" / "page.err.log"
    assert "page.err.log" in bad.log and "planted failure" in report.read_text()


def test_a_clean_tiny_book_builds(tmp_path):
    good = build_book(_tiny_book(tmp_path, "print(1 + 1)"), tmp_path / "out", timeout=600)
    assert good.returncode == 0, good.log[-3000:]


def test_pages_show_no_path_of_the_build_machine(built_book):
    machine = {str(ROOT), str(Path.home())} | {os.environ[v] for v in ("GENAI_DATA", "GENAI_ARTIFACTS") if os.environ.get(v)}
    for nb in SOURCE_NOTEBOOKS:
        page = (built_book.html / nb.relative_to(ROOT).with_suffix("")).with_suffix(".html")
        text = page.read_text(encoding="utf-8")
        shown = sorted(p for p in machine if p in text)
        assert not shown, f"{page.name} shows a path of the build machine: {shown}"


def test_the_build_executes_no_notebook_that_nbval_already_ran(built_book):
    """Each notebook is executed once per test run: what nbval ran without error, the build takes from its cache."""
    again = [nb for nb in built_book.from_nbval if f"executed {nb} (" in built_book.log]
    assert not again, f"the build executed again what nbval had run: {again} (see tests/executed_once.py)"


STRAY = re.compile(r"^(True|False|\(.*\)|-?[\d.]+(e[+-]?\d+)?)$", re.DOTALL)


def test_pages_show_no_stray_values(built_book):
    """A cell that ends with a check's, a claim's or a helper's return value must not show it (True, (8, 0.32), 0.5)."""
    from executed_once import cache_folder
    from jupyter_cache import get_cache

    assert built_book.returncode == 0
    import nbformat

    cache = get_cache(str(cache_folder()))
    found = []
    for path in SOURCE_NOTEBOOKS:
        record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        nb = cache.get_cache_bundle(record.pk).nb
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                text = out.get("data", {}).get("text/plain", "") if out.get("output_type") == "execute_result" else ""
                if STRAY.match(text.strip()):
                    found.append(f"{path.name} cell {i}: {text.strip()[:40]}")
    assert not found, f"cells whose last line shows a stray value: {found}"
