"""Progress: a tqdm bar for long loops, and the student's exercise progress across the course.

    python -m utils.progress     # every notebook's checks: passed, failed, not run yet

Every check records its latest verdict in progress.json in the artifacts folder (GENAI_ARTIFACTS,
default artifacts/; in Colab, Google Drive when a lab was told to keep models there), so the record
outlives a Colab runtime wherever the models do.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from utils.config import REPO_ROOT, artifacts_root

PROGRESS_FILE = "progress.json"
NOTEBOOK_DIRS = ("lectures/solutions", "labs/solutions")
_MODULE = re.compile(r"from utils\.checks import (\w+) as checks")
_CHECK = re.compile(r"\bchecks\.check_(\w+)\(")


def progress(iterable: Iterable[Any] | None = None, *, desc: str = "", total: int | None = None, **kwargs: Any) -> tqdm:
    """Wrap an iterable (or a count via total=) in a progress bar; use bar.set_postfix(loss=...) for live numbers."""
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, **kwargs)


def _path() -> Path:
    """Where the verdicts are kept."""
    return artifacts_root() / PROGRESS_FILE


def recorded() -> dict[str, dict[str, Any]]:
    """The latest verdict of every check run so far: {module: {check: {"passed": bool, "when": str}}}."""
    try:
        data = json.loads(_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(module: str, check: str, passed: bool) -> None:
    """Remember a check's latest verdict (best effort: a folder that cannot be written never fails a check)."""
    data = recorded()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data.setdefault(module, {})[check] = {"passed": bool(passed), "when": when}
    path = _path()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def notebook_checks(text: str) -> tuple[str, list[str]] | None:
    """The checks module a notebook's code imports and the checks it calls, in order (None without checks)."""
    module = _MODULE.search(text)
    if module is None:
        return None
    return module.group(1), list(dict.fromkeys(_CHECK.findall(text)))


def _status(checks: list[str], seen: dict[str, Any]) -> list[tuple[str, str]]:
    """(check, 'passed' | 'failed' | 'not run yet') for each check of a notebook, from its recorded verdicts."""
    return [(c, "not run yet" if c not in seen else ("passed" if seen[c]["passed"] else "failed")) for c in checks]


def _passed(status: list[tuple[str, str]]) -> int:
    """How many of the checks passed."""
    return sum(state == "passed" for _, state in status)


def _course_line(course: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """'P of T checks passed' over the whole course."""
    return f"{sum(_passed(s) for _, _, s in course)} of {sum(len(s) for _, _, s in course)} checks passed"


def show(module: str, checks: list[str]) -> None:
    """Print this notebook's checks (passed, failed, not run yet) and a line on the whole course."""
    status = _status(checks, recorded().get(module, {}))
    print(f"This page: {_passed(status)} of {len(status)} checks passed.")
    for check, state in status:
        mark = {"passed": "PASS", "failed": "FAIL"}.get(state, " -- ")
        print(f"  [{mark}] {check}{'' if state == 'passed' else ': ' + state}")
    print(f"The course: {_course_line(course_status())} (`python -m utils.progress` lists them all).")


def course_status(root: Path = REPO_ROOT) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(notebook, module, [(check, state)]) for every notebook with checks under root, in course order."""
    seen, out = recorded(), []
    for folder in NOTEBOOK_DIRS:
        for path in sorted((root / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
            found = notebook_checks(code)
            if found:
                module, checks = found
                out.append((path.stem, module, _status(checks, seen.get(module, {}))))
    return out


def main() -> int:
    """Print the whole course's progress."""
    course = course_status()
    for notebook, _, status in course:
        print(f"{notebook}: {_passed(status)} of {len(status)} checks passed")
        for check, state in status:
            print(f"    {check}: {state}")
    print(f"course: {_course_line(course)} (record: {PROGRESS_FILE} in the artifacts folder)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
