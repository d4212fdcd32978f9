"""Time the execution of every notebook, in fast or full mode, and record it in benchmarks/README.md.

Usage (from the repository root):
    python benchmarks/time_notebooks.py --mode fast            # every lecture and lab solution
    python benchmarks/time_notebooks.py --mode full
    python benchmarks/time_notebooks.py --mode fast lectures/00_getting_started.ipynb   # some of them
    GENAI_DEVICE=cpu python benchmarks/time_notebooks.py --mode fast   # the CPU columns on a GPU machine

Each notebook runs top to bottom in a fresh kernel (nbclient), from its own folder, as the book build and
the tests run it; the labs share one fresh artifacts folder, in order, so a later lab finds what an earlier
one saved. The table under "Notebook execution times" in benchmarks/README.md gets the wall-clock seconds
of each notebook in the column of that mode and device kind (CPU, or GPU when utils picks CUDA or MPS) and
their total (the whole book when every notebook ran), with the command and the machine. The other columns
and every other section of the file are kept as they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "benchmarks" / "README.md"
HEADING = "## Notebook execution times"
MODES = ("fast", "full")
COLUMNS = ("fast, CPU", "full, CPU", "fast, GPU", "full, GPU")
NONE = "—"
INTRO = (
    "Wall-clock seconds to execute each notebook top to bottom in a fresh kernel (nbclient, from the\n"
    "notebook's folder), measured by `benchmarks/time_notebooks.py`; see its docstring for how to rerun it.\n"
    "Fast mode is `GENAI_FAST=1`, what the tests run; full mode is what the published book shows. A run fills\n"
    "the CPU or the GPU columns according to the device the notebooks pick (`utils.config.get_device`).\n"
    "A dash: not measured yet."
)


@dataclass
class Timing:
    """One notebook's run: its path relative to the repository, seconds, and the error if it failed."""

    notebook: str
    seconds: float
    error: str | None = None


def default_notebooks() -> list[Path]:
    """Every lecture source, then every lab source, in file-name order (student copies are not timed)."""
    copies = {p.parent.parent / p.name for p in ROOT.glob("*/solutions/*.ipynb")}
    lectures = sorted({*ROOT.glob("lectures/*.ipynb"), *ROOT.glob("lectures/solutions/*.ipynb")} - copies, key=lambda p: p.name)
    return lectures + sorted(ROOT.glob("labs/solutions/*.ipynb"))


def column(mode: str, device_type: str) -> str:
    """The table column of a run: its mode and whether the notebooks' device is the CPU or a GPU."""
    return f"{mode}, {'CPU' if device_type == 'cpu' else 'GPU'}"


def notebook_device() -> torch.device:
    """The device the notebooks will pick (utils.config.get_device)."""
    sys.path.insert(0, str(ROOT))
    from utils import config

    return config.get_device()


def machine(device: torch.device) -> str:
    """One line naming the machine: CPU count, platform, Python, torch and the device the notebooks use."""
    import torch

    name = f"{device}"
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    threads = os.environ.get("OMP_NUM_THREADS")
    cpu = f"{os.cpu_count()} CPUs" + (f", OMP_NUM_THREADS={threads}" if threads else "")
    load = f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    system = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return f"{cpu}{load}, {system}, torch {torch.__version__}, device {name}"


def run_notebook(path: Path, timeout: int) -> Timing:
    """Execute one notebook with nbclient and time it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    rel = path.resolve().relative_to(ROOT).as_posix()
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as err:  # a failing cell, a timeout, a dead kernel: record it and go on
        first = str(err).strip().splitlines()[-1:] or [type(err).__name__]
        return Timing(rel, time.perf_counter() - start, f"{type(err).__name__}: {first[0][:200]}")
    return Timing(rel, time.perf_counter() - start)


# -- benchmarks/README.md -----------------------------------------------------------------------------------


def split_section(text: str) -> tuple[str, str, str]:
    """(before, our section, after) of the README; our section is empty when it is not there yet."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == HEADING), None)
    if start is None:
        return text, "", ""
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"#{1,2} ", lines[i])), len(lines))
    return "".join(lines[:start]), "".join(lines[start:end]), "".join(lines[end:])


def parse_section(section: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The table's cells {notebook: {column: text}} and the run notes {column: text} of our section."""
    rows: dict[str, dict[str, str]] = {}
    notes: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) in (3, 1 + len(COLUMNS)) and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = dict(zip(COLUMNS, cells[1:], strict=False))  # 3 cells: an older CPU-only table
        match = re.match(rf"- \*\*({'|'.join(COLUMNS)}):\*\* (.*)", line) or re.match(r"- \*\*(fast|full) mode:\*\* (.*)", line)
        if match:
            notes[column(match.group(1), "cpu") if match.group(1) in MODES else match.group(1)] = match.group(2)
    return rows, notes


def cell(timing: Timing) -> str:
    """A table cell for one run."""
    return f"{timing.seconds:.1f}" if timing.error is None else f"failed after {timing.seconds:.1f}"


def total(rows: dict[str, dict[str, str]], col: str) -> str:
    """The total of one column; says how many notebooks it covers when not all of them."""
    values = [float(r[col]) for r in rows.values() if re.fullmatch(r"\d+(\.\d+)?", r.get(col, ""))]
    if not values:
        return NONE
    text = f"**{sum(values):.1f}**"
    return text if len(values) == len(rows) else f"{text} ({len(values)} of {len(rows)} notebooks)"


def render_section(rows: dict[str, dict[str, str]], notes: dict[str, str]) -> str:
    """Our section of the README, from the table's cells and the run notes."""
    order = {p.resolve().relative_to(ROOT).as_posix(): i for i, p in enumerate(default_notebooks())}
    names = sorted(rows, key=lambda n: (order.get(n, len(order)), n))
    out = [HEADING, "", INTRO, "", "| notebook | " + " | ".join(f"{c} (s)" for c in COLUMNS) + " |"]
    out += ["|---|" + "---:|" * len(COLUMNS)]
    out += [f"| `{n}` | " + " | ".join(rows[n].get(c, NONE) for c in COLUMNS) + " |" for n in names]
    out += ["| **total** | " + " | ".join(total(rows, c) for c in COLUMNS) + " |", ""]
    out += [f"- **{c}:** {notes.get(c, 'not measured yet.')}" for c in COLUMNS]
    return "\n".join(out) + "\n"


def update_readme(readme: Path, timings: list[Timing], col: str, note: str) -> None:
    """Write this run's timings into column col of our section of the README, keeping everything else."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n\nPerformance measurements of the book.\n"
    before, section, after = split_section(text)
    rows, notes = parse_section(section)
    existing = {p.resolve().relative_to(ROOT).as_posix() for p in default_notebooks()}
    rows = {n: r for n, r in rows.items() if n in existing}  # forget notebooks that are gone
    for t in timings:
        rows.setdefault(t.notebook, {c: NONE for c in COLUMNS})[col] = cell(t)
    for n in existing:
        rows.setdefault(n, {c: NONE for c in COLUMNS})
    notes[col] = note
    if not section:
        before = before.rstrip("\n") + "\n\n"
    elif after and not after.startswith("\n"):
        after = "\n" + after
    readme.write_text(before + render_section(rows, notes) + after, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python benchmarks/time_notebooks.py", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: every lecture and lab solution)")
    parser.add_argument("--mode", choices=MODES, required=True, help="fast (GENAI_FAST=1) or full mode")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    parser.add_argument("--readme", type=Path, default=README, help="where to record the table (default benchmarks/README.md)")
    parser.add_argument("--no-record", action="store_true", help="print the timings only")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or default_notebooks()
    for p in paths:
        if not p.is_file() or p.suffix != ".ipynb" or not p.is_relative_to(ROOT):
            parser.error(f"not a notebook of this repository: {p}")
    os.environ["GENAI_FAST"] = "1" if args.mode == "fast" else "0"  # the kernels inherit the environment
    os.environ.pop("MPLBACKEND", None)  # figures render as in the book (the kernel's inline backend)
    device = notebook_device()
    on, col = machine(device), column(args.mode, device.type)
    timings = []
    with tempfile.TemporaryDirectory(prefix="genai-artifacts-") as artifacts:
        os.environ["GENAI_ARTIFACTS"] = artifacts  # start from no artifacts, as on a fresh clone
        for p in paths:
            t = run_notebook(p, args.timeout)
            timings.append(t)
            print(f"{t.notebook}: {cell(t)} s" + (f"  ({t.error})" if t.error else ""), flush=True)
    print(f"total: {sum(t.seconds for t in timings):.1f} s over {len(timings)} notebooks ({args.mode} mode) on {on}")
    if not args.no_record:
        env = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
        command = f"{env}python benchmarks/time_notebooks.py {shlex.join(argv if argv is not None else sys.argv[1:])}"
        note = f"`{command}` on {dt.date.today().isoformat()}; {on}."
        update_readme(args.readme, timings, col, note)
        print(f"recorded in {args.readme}")
    return 1 if any(t.error for t in timings) else 0


if __name__ == "__main__":
    sys.exit(main())
