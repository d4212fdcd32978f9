"""Wall-clock time of a rebuild from a full execution cache after a small edit, and what it executed.

    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/rebuild_times.py            # print (full mode)
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/rebuild_times.py --write    # record
    GENAI_FAST=1 ... python benchmarks/rebuild_times.py --mode fast                        # the fast-mode cache

Runs `scripts/build_book.py` (the README's build command) on the book as it is, four times: first to fill
the cache (instant when it is full already; reported, not part of the table), then with nothing changed,
then after appending a sentence to a Markdown cell of one lecture, then after appending a comment line to
`utils/checks/gan_lab.py`. Each edited file is restored right after its build (and in any case on exit), and
a last build puts the pages back as the sources are. The table gives each build's seconds and the notebooks
it executed, read from the build's log: a Markdown edit should execute none, the check module lab 1 only
(and lab 3, which reads lab 1's model, when lab 1 saved a different one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from readme_section import publish

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from book_files import cell_source, render_notebook, toc_files  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
HEADING = "## Rebuild after a small edit"
MODULE = "utils/checks/gan_lab.py"
SENTENCE = "This sentence was added to time a rebuild."
EXECUTED = re.compile(r"^\s*executed (\S+) \(")


def timed_build(book: Path, mode: str, extra: list[str]) -> tuple[float, list[str]]:
    """Seconds of one build of book and the notebooks it executed; fails loudly on a broken build."""
    env = {**os.environ, "GENAI_FAST": "1" if mode == "fast" else "0"}
    cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(book), *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=book, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    executed = [m.group(1) for line in proc.stdout.splitlines() if (m := EXECUTED.match(line))]
    return seconds, executed


@contextmanager
def edited(path: Path, edit: Callable[[str], str]) -> Iterator[None]:
    """The file changed by edit(text) for the duration of the block, then restored byte for byte."""
    before = path.read_bytes()
    path.write_text(edit(before.decode("utf-8")), encoding="utf-8")
    try:
        yield
    finally:
        path.write_bytes(before)


def add_sentence(text: str) -> str:
    """A notebook's text with a sentence appended to its first Markdown cell (its title cell)."""
    nb = json.loads(text)
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = cell_source(cell).rstrip("\n") + f"\n\n{SENTENCE}"
    return render_notebook(nb)


def add_comment(text: str) -> str:
    """A module's text with one comment line appended."""
    return text.rstrip("\n") + "\n# a one-line change, to time a rebuild\n"


def first_lecture(book: Path) -> str:
    """The first lecture with solutions in the book's table of contents."""
    found = [f for f in toc_files(book) if f.startswith("lectures/solutions/")]
    if not found:
        raise SystemExit(f"{book}: no lecture under lectures/solutions/ in _toc.yml; name one with --lecture")
    return found[0]


def measure(book: Path, mode: str, lecture: str, module: str, extra: list[str]) -> list[tuple[str, float, list[str]]]:
    """The rows of the table: (what changed, seconds, notebooks executed); the first build fills the cache."""
    fill, ran = timed_build(book, mode, extra)
    print(f"filling the cache: {fill:.0f} s, executed {len(ran)} notebook(s)", flush=True)
    rows = [("nothing", *timed_build(book, mode, extra))]
    with edited(book / f"{lecture}.ipynb", add_sentence):
        rows.append((f"one sentence of Markdown in `{lecture}.ipynb`", *timed_build(book, mode, extra)))
    with edited(book / module, add_comment):
        rows.append((f"one line of `{module}`", *timed_build(book, mode, extra)))
    back, ran = timed_build(book, mode, extra)  # the pages as the sources are again
    print(f"after restoring the files: {back:.0f} s, executed {', '.join(ran) or 'nothing'}", flush=True)
    return rows


def render(mode: str, rows: list[tuple[str, float, list[str]]]) -> str:
    """The README section."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    env = (
        f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load average "
        f"{load:.1f} at the end, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    )
    lines = [
        HEADING,
        "",
        f"`python scripts/build_book.py` in {mode} mode with every notebook already in the execution cache, after one",
        "small edit, measured by `benchmarks/rebuild_times.py` (each edit undone after its build):",
        "",
        "| what changed | wall (s) | notebooks executed |",
        "|---|---:|---|",
    ]
    lines += [f"| {what} | {seconds:.0f} | {', '.join(f'`{n}`' for n in ran) or 'none'} |" for what, seconds, ran in rows]
    flag = " --mode fast" if mode == "fast" else ""
    lines += [
        "",
        f"- **command:** `OMP_NUM_THREADS=1 python benchmarks/rebuild_times.py{flag} --write` on {date.today().isoformat()}",
        f"- **machine:** {env}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Time the rebuilds, print the section, and with --write record it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mode", choices=["fast", "full"], default="full")
    parser.add_argument("--book", type=Path, default=ROOT, help="the book to build (default: this repository)")
    parser.add_argument("--lecture", help="the notebook whose Markdown is edited (default: the first lecture with solutions)")
    parser.add_argument("--module", default=MODULE, help=f"the module edited by one line (default: {MODULE})")
    parser.add_argument("--write", action="store_true", help="update this benchmark's section of benchmarks/README.md")
    parser.add_argument("build_options", nargs="*", help="passed to scripts/build_book.py (after --), e.g. --jobs 1")
    args = parser.parse_args(argv)
    book = args.book.resolve()
    rows = measure(book, args.mode, args.lecture or first_lecture(book), args.module, args.build_options)
    section = render(args.mode, rows)
    publish(README, HEADING, section, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
