"""Wall-clock time of a whole-book build from an empty cache, one notebook at a time against N in parallel.

    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/time_build.py --mode full            # print
    OMP_NUM_THREADS=1 GENAI_DATA=<data root> python benchmarks/time_build.py --mode full --write    # record

Each build runs `scripts/build_book.py` (the README's build command) into a fresh output folder, with fresh
artifacts, so nothing is reused: first with `--jobs 1` (notebook after notebook, as a plain
`jupyter-book build` executes them), then with `--jobs N` (default: one per core). Both one after the other on
one machine, so their ratio is what a faster build saves.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from readme_section import publish

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "benchmarks" / "README.md"
HEADING = "## Whole-book build"


def timed_build(jobs: int, mode: str, work: Path) -> float:
    """Seconds of one build from scratch with this many parallel notebooks; fails loudly on a broken build."""
    out, artifacts = work / f"jobs{jobs}", work / f"artifacts{jobs}"
    env = {**os.environ, "GENAI_FAST": "1" if mode == "fast" else "0", "GENAI_ARTIFACTS": str(artifacts)}
    cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--jobs", str(jobs), "--path-output", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the build with --jobs {jobs} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    logs = ROOT / "_build" / "time-build"  # kept after the temporary folders are removed
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{mode}-jobs{jobs}.log").write_text(proc.stdout + proc.stderr)
    for line in (proc.stdout + proc.stderr).splitlines():  # what was executed before Sphinx, and by it
        if line.lstrip().startswith(("executing", "executed", "failed")) or "Executing" in line:
            print(f"  [--jobs {jobs}] {line.strip()}", flush=True)
    return seconds


def render(mode: str, serial: float, parallel: float, jobs: int) -> str:
    """The README section."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    env = (
        f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load average "
        f"{load:.1f} at the end, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    )
    return "\n".join(
        [
            HEADING,
            "",
            f"`python scripts/build_book.py` from an empty cache in {mode} mode, measured by `benchmarks/time_build.py`:",
            "",
            "| notebooks executed | wall (s) | wall (min) |",
            "|---|---:|---:|",
            f"| one at a time (`--jobs 1`) | {serial:.0f} | {serial / 60:.1f} |",
            f"| {jobs} in parallel (`--jobs {jobs}`, the default here) | {parallel:.0f} | {parallel / 60:.1f} |",
            "",
            f"The parallel build takes {parallel / serial:.2f} of the serial one's time ({serial / parallel:.2f}x faster).",
            "",
            f"- **command:** `OMP_NUM_THREADS=1 python benchmarks/time_build.py --mode {mode} --write` on {date.today().isoformat()}",
            f"- **machine:** {env}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Time both builds, print the section, and with --write record it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mode", choices=["fast", "full"], default="full")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks at a time in the parallel build")
    parser.add_argument("--write", action="store_true", help="update this benchmark's section of benchmarks/README.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="time-build-"))
    try:
        serial = timed_build(1, args.mode, work)
        print(f"--jobs 1: {serial:.0f} s", flush=True)
        parallel = timed_build(args.jobs, args.mode, work)
        print(f"--jobs {args.jobs}: {parallel:.0f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section = render(args.mode, serial, parallel, args.jobs)
    publish(README, HEADING, section, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
