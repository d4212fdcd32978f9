"""A Sphinx extension that scripts/build_book.py adds to its build: read again the pages whose executed results changed.

Sphinx reads a page again when its file changed. A notebook executed again because a helper module it imports
or an artifact it reads changed keeps its file, so scripts/build_book.py lists such pages (one docname per
line) in the file named by GENAI_REREAD, and this extension adds them to the pages Sphinx reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

VARIABLE = "GENAI_REREAD"


def listed_pages(env: Any, added: set[str], changed: set[str], removed: set[str]) -> list[str]:
    """The pages named in the GENAI_REREAD file that the book has and Sphinx would not read anyway."""
    listed = os.environ.get(VARIABLE)
    if not listed or not Path(listed).is_file():
        return []
    names = Path(listed).read_text(encoding="utf-8").split()
    return [n for n in names if n in env.found_docs and n not in added | changed | removed]


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("env-get-outdated", lambda app, env, added, changed, removed: listed_pages(env, added, changed, removed))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
