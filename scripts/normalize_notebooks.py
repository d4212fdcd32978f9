"""Give every notebook the stored form the repository expects: no outputs, python3 kernel, tidy metadata.

Usage: python scripts/normalize_notebooks.py [NOTEBOOK ...]   (default: every source notebook)
Authors who draft in jupytext's percent format can convert with `jupytext --to ipynb` and then run this.
A code cell whose whole source is `# SETUP` is replaced by the canonical setup cell (scripts/setup_cell.py), and so
is an older copy of the setup cell (a code cell starting with its first line), e.g. after `scripts/set_repository.py`;
the setup cell is tagged `hide-input`, so the website folds it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from book_files import cell_source, render_notebook

ROOT = Path(__file__).resolve().parent.parent
SETUP = (ROOT / "scripts" / "setup_cell.py").read_text().rstrip("\n")
SETUP_FIRST_LINE = SETUP.split("\n", 1)[0]
SETUP_TAG = "hide-input"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def normalize(path: Path) -> bool:
    """Rewrite one notebook in place; return True when it changed."""
    before = path.read_text(encoding="utf-8")
    nb = json.loads(before)
    nb["metadata"] = {
        "kernelspec": KERNEL,
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    nb["nbformat"], nb["nbformat_minor"] = 4, 5
    ids = {c.get("id") for c in nb["cells"]}
    for i, cell in enumerate(nb["cells"]):
        src = cell_source(cell)
        if not cell.get("id"):  # nbformat 4.5 wants an id on every cell: a stable one, made from position and source
            cell["id"] = hashlib.sha1(f"{i}:{src}".encode()).hexdigest()[:8]
            while cell["id"] in ids:
                cell["id"] = hashlib.sha1(cell["id"].encode()).hexdigest()[:8]
            ids.add(cell["id"])
        if cell["cell_type"] == "code":
            if src.strip() == "# SETUP" or src.startswith(SETUP_FIRST_LINE):
                src = SETUP
                tags = cell.setdefault("metadata", {}).setdefault("tags", [])
                if SETUP_TAG not in tags:
                    tags.append(SETUP_TAG)  # folded on the website, shown in Colab and JupyterLab
            cell["outputs"], cell["execution_count"] = [], None
        cell["source"] = src
        meta = cell.get("metadata", {})
        for key in ("execution", "jupyter", "collapsed", "scrolled"):
            if key != "jupyter" or not meta.get("jupyter", {}).get("source_hidden"):
                meta.pop(key, None)
        cell["metadata"] = meta
    after = render_notebook(nb)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def main(argv: list[str]) -> int:
    """Normalise the given notebooks, or all lecture and lab-source notebooks."""
    paths = [Path(a) for a in argv] or sorted(
        {*ROOT.glob("lectures/*.ipynb"), *ROOT.glob("lectures/solutions/*.ipynb"), *ROOT.glob("labs/solutions/*.ipynb")}
        - {p.parent.parent / p.name for p in ROOT.glob("*/solutions/*.ipynb")}  # student copies are generated
    )
    for p in paths:
        if normalize(p):
            print(f"normalised {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
