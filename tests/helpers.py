"""Shared bits of the test suite: repository paths, notebook reading, the scripts on the import path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))  # the instructors' tools (assignments, build_book, ...) import as modules

from book_files import cell_source as cell_source  # noqa: E402  (one reader of a cell's source, shared with the scripts)
from book_files import toc_files as toc_files  # noqa: E402  (one reader of _toc.yml, shared with the scripts)

TEST_BOOK = ROOT / "_build" / "test-book"  # where the tests build the whole book (its caches, nbval's markers)
SOLUTION_SOURCES = sorted([*ROOT.glob("lectures/solutions/*.ipynb"), *ROOT.glob("labs/solutions/*.ipynb")])
STUDENT_NOTEBOOKS = [p.parent.parent / p.name for p in SOLUTION_SOURCES]
SOURCE_NOTEBOOKS = sorted({*ROOT.glob("lectures/*.ipynb"), *SOLUTION_SOURCES} - set(STUDENT_NOTEBOOKS))
ALL_NOTEBOOKS = SOURCE_NOTEBOOKS + STUDENT_NOTEBOOKS


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook as a dict."""
    return json.loads(path.read_text(encoding="utf-8"))


def book_config() -> dict[str, Any]:
    """The parsed _config.yml."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def stub(*args: Any, **kwargs: Any) -> Any:
    """An exercise the student has not started: what the student copy holds."""
    raise NotImplementedError("Exercise: write your code here")


def assert_fails(verdict: Any, *fragments: str) -> None:
    """The check's verdict failed and its message names every fragment."""
    assert not verdict.passed, verdict.line()
    for fragment in fragments:
        assert fragment in verdict.message, verdict.line()
