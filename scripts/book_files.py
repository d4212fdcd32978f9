"""What the scripts and the tests share about the book's files: cell sources, stored notebooks, the toc, the caches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JUPYTER_CACHE = Path("_build") / ".jupyter_cache"  # under a build's output folder: one execution cache per set of conditions


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (stored notebooks hold a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def render_notebook(nb: dict[str, Any]) -> str:
    """A notebook serialised the way the repository stores it."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def write_notebook(path: Path, nb: dict[str, Any]) -> bool:
    """Write a notebook in the stored form unless the file already holds exactly that; return True when written."""
    text = render_notebook(nb)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def toc_files(root: Path = ROOT, toc: Path | dict[str, Any] | None = None) -> list[str]:
    """Every document of a table of contents (the book's `_toc.yml` unless given), in reading order, without extension.

    Read by `sphinx_external_toc`, the parser Jupyter Book itself uses, so the scripts and the tests see the same book.
    """
    from sphinx_external_toc.parsing import parse_toc_data, parse_toc_yaml

    site_map = parse_toc_data(toc) if isinstance(toc, dict) else parse_toc_yaml(str(toc or root / "_toc.yml"))
    return list(site_map.keys())


def toc_data(root: Path = ROOT) -> dict[str, Any]:
    """The book's `_toc.yml` as a dict in its canonical form (as `sphinx_external_toc` reads and writes it)."""
    from sphinx_external_toc.parsing import create_toc_dict, parse_toc_yaml

    return create_toc_dict(parse_toc_yaml(str(root / "_toc.yml")))


def jupyter_cache_folder(out: Path, name: str) -> Path:
    """The execution cache named `name` of a build whose output folder is `out` (the book's root by default)."""
    return out / JUPYTER_CACHE / name
