"""Shared bits of the test suite: repository paths and notebook reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_SOURCES = sorted([*ROOT.glob("lectures/solutions/*.ipynb"), *ROOT.glob("labs/solutions/*.ipynb")])
STUDENT_NOTEBOOKS = [p.parent.parent / p.name for p in SOLUTION_SOURCES]
SOURCE_NOTEBOOKS = sorted({*ROOT.glob("lectures/*.ipynb"), *SOLUTION_SOURCES} - set(STUDENT_NOTEBOOKS))
ALL_NOTEBOOKS = SOURCE_NOTEBOOKS + STUDENT_NOTEBOOKS


def read_notebook(path: Path) -> dict[str, Any]:
    """A notebook as a dict."""
    return json.loads(path.read_text(encoding="utf-8"))


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def book_config() -> dict[str, Any]:
    """The parsed _config.yml."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files() -> list[str]:
    """Every file named in _toc.yml, without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", []))
    return files


def stub(*args: Any, **kwargs: Any) -> Any:
    """An exercise the student has not started: what the student copy holds."""
    raise NotImplementedError("Exercise: write your code here")


def assert_fails(verdict: Any, *fragments: str) -> None:
    """The check's verdict failed and its message names every fragment."""
    assert not verdict.passed, verdict.line()
    for fragment in fragments:
        assert fragment in verdict.message, verdict.line()
