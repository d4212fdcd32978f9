"""Fixtures shared by the tests: a strict build of the whole book, made once per test session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import ROOT, TEST_BOOK  # noqa: E402


@dataclass
class BookBuild:
    """The outcome of one `jupyter-book build`."""

    returncode: int
    log: str
    html: Path
    from_nbval: tuple[str, ...] = ()  # notebooks nbval had executed (and cached) before the build started


def build_book(source: Path, out: Path, timeout: int = 1800) -> BookBuild:
    """Build a book strictly (warnings as errors, nitpicky, keep going) in fast mode, as scripts/build_book.py does."""
    if not shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) and not shutil.which("jupyter-book"):
        pytest.fail("jupyter-book is not installed: run `python -m pip install -r requirements.txt`.")
    env = {**os.environ, "GENAI_FAST": os.environ.get("GENAI_FAST", "1")}
    env.pop("MPLBACKEND", None)  # the test session's Agg would keep plt.show() from putting figures in the pages
    script = ROOT / "scripts" / "build_book.py"
    cmd = [sys.executable, str(script), str(source), "--path-output", str(out), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return BookBuild(proc.returncode, proc.stdout + proc.stderr, out / "_build" / "html")


def build_book_once(source: Path, out: Path) -> BookBuild:
    """build_book, but once per test run when pytest-xdist workers ask for it: the first builds, the others wait and reuse.

    The build first waits for the notebooks nbval is still executing, whose results it then takes from its cache
    (tests/executed_once.py), so that each notebook is executed once per test run.
    """
    from executed_once import cached_by_nbval, wait_for_notebooks

    wait_for_notebooks()
    reused = tuple(cached_by_nbval())
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    try:
        import fcntl
    except ImportError:  # not POSIX: each worker builds
        fcntl = None
    if not run_id or fcntl is None:
        return replace(build_book(source, out), from_nbval=reused)
    out.mkdir(parents=True, exist_ok=True)
    record = out / f"build-{run_id}.json"
    with open(out / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if record.is_file():
            data = json.loads(record.read_text())
            return BookBuild(data["returncode"], data["log"], Path(data["html"]), tuple(data["from_nbval"]))
        build = replace(build_book(source, out), from_nbval=reused)
        for old in out.glob("build-*.json"):
            old.unlink()
        data = {"returncode": build.returncode, "log": build.log, "html": str(build.html), "from_nbval": reused}
        record.write_text(json.dumps(data))
        return build


@pytest.fixture(scope="session")
def built_book() -> BookBuild:
    """The whole book, built strictly once per test session (once per run under pytest-xdist)."""
    return build_book_once(ROOT, TEST_BOOK)
