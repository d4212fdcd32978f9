"""A tqdm progress bar that works in notebooks, terminals and the book build."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress(iterable: Iterable[Any] | None = None, *, desc: str = "", total: int | None = None, **kwargs: Any) -> tqdm:
    """Wrap an iterable (or a count via total=) in a progress bar; use bar.set_postfix(loss=...) for live numbers."""
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, **kwargs)
