"""A Sphinx extension that serves MathJax with the site, so the math renders without a network.

MathJax 3 comes from a Python package (django-static-mathjax, in requirements.txt); after an HTML build
the parts this book needs (TeX input with its extensions, CommonHTML output with its fonts, the menu) are
copied to `_static/mathjax/`, and `_config.yml` points `mathjax_path` at `mathjax/tex-chtml.js`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors")


def mathjax_folder() -> Path:
    """The folder of MathJax's browser build inside the installed package."""
    try:
        import mathjax
    except ImportError:
        raise RuntimeError(
            "MathJax is not installed, so the book's math could not be served with it: run `python -m pip install -r requirements.txt`."
        ) from None
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def copy_mathjax(app: Any, exception: Exception | None) -> None:
    """After a successful HTML build, copy MathJax next to the pages."""
    if exception is not None or app.builder.format != "html":
        return
    src, dst = mathjax_folder(), Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dst / part, dirs_exist_ok=True)
        else:
            (dst / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / part, dst / part)


def setup(app: Any) -> dict[str, Any]:
    """Register the copy step."""
    mathjax_folder()  # fail early, with the message, when the package is missing
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
