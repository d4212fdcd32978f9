"""Build the student edition of the book: the student copies of the lectures and labs instead of their solutions.

Usage: python scripts/build_student_edition.py [--execute] [--strict] [--out _build/student]

Writes a table of contents in which every solution source `lectures/solutions/NN_topic` or
`labs/solutions/NN_topic` is replaced by its student copy (`lectures/NN_topic`, `labs/NN_topic`) and the
instructors' part is left out, plus a copy of _config.yml that executes nothing, then builds the book with
them. The website lands in `_build/student/_build/html/`. With --execute the notebooks without exercises
(the getting-started page) are executed, through the main build's execution cache for the same conditions;
student copies are never executed (they stop at their first unfinished exercise). Regenerate the student
copies first (`python scripts/assignments.py`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_book  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ("lectures/solutions/", "labs/solutions/")
INSTRUCTOR_PAGE, REPORTS = "instructors", "reports/"  # the instructors' part, left out of the student edition
EDITION = "student edition"


def student_file(file: str) -> str:
    """labs/solutions/NN_topic -> labs/NN_topic (lectures alike); any other toc entry is returned unchanged."""
    for folder in SOLUTIONS:
        if file.startswith(folder):
            return folder.removesuffix("solutions/") + file.removeprefix(folder)
    return file


def _instructor_only(file: str) -> bool:
    """Whether a toc entry belongs to the instructors' part of the book."""
    return file == INSTRUCTOR_PAGE or file.startswith(REPORTS)


def _convert(node: Any) -> Any:
    """Convert a toc subtree; None for entries (and emptied parts) the student edition leaves out."""
    if isinstance(node, list):
        items = [_convert(item) for item in node]
        return [item for item in items if item is not None]
    if not isinstance(node, dict):
        return node
    if "file" in node and _instructor_only(node["file"]):
        return None
    out = {}
    for key, value in node.items():
        out[key] = student_file(value) if key == "file" else _convert(value)
    for key in ("chapters", "sections", "parts"):
        if key in node and node[key] and not out[key]:
            if "file" not in out:
                return None  # a part left with nothing in it
            del out[key]
    return out


def student_toc(toc: dict[str, Any]) -> dict[str, Any]:
    """The student edition's table of contents made from the book's (a new dict)."""
    return _convert(toc)


def student_config(config: dict[str, Any], root: Path, execute: bool) -> dict[str, Any]:
    """The student edition's _config.yml made from the book's (a new dict)."""
    out = build_book.with_absolute_paths(yaml.safe_load(yaml.safe_dump(config)), root)
    out["title"] = f"{config.get('title', 'Book')} ({EDITION})"
    execute_cfg = out.setdefault("execute", {})
    if execute:
        execute_cfg["execute_notebooks"] = "cache"
        name = build_book.cache_name(build_book.conditions(root))  # the main build's cache for these conditions
        execute_cfg["cache"] = str(root / "_build" / ".jupyter_cache" / name)
        copies = {f"{folder.removesuffix('solutions/')}{src.name}" for folder in SOLUTIONS for src in (root / folder).glob("*.ipynb")}
        execute_cfg["exclude_patterns"] = sorted({*execute_cfg.get("exclude_patterns", []), *copies})
    else:
        execute_cfg["execute_notebooks"] = "off"
    return out


def toc_files(toc: Any) -> list[str]:
    """Every file named in a toc subtree."""
    if isinstance(toc, list):
        return [f for item in toc for f in toc_files(item)]
    if isinstance(toc, dict):
        own = [toc["file"]] if "file" in toc else []
        return own + [f for key, value in toc.items() if key != "file" for f in toc_files(value)]
    return []


def jupyter_book() -> str:
    """The jupyter-book executable next to this Python, or on PATH."""
    exe = Path(sys.executable).with_name("jupyter-book")
    return str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book")


def build_student_edition(
    root: Path = ROOT, out: Path | None = None, execute: bool = False, strict: bool = False, timeout: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Write the student toc and config under `out` and build the book there; return the finished build."""
    root = root.resolve()
    out = (out or root / "_build" / "student").resolve()
    toc = student_toc(yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")))
    missing = [
        f for f in toc_files(toc) if f.startswith("labs/") and not any((root / f).with_suffix(s).exists() for s in (".ipynb", ".md"))
    ]
    if missing:
        raise FileNotFoundError(f"student copies missing: {', '.join(missing)}; run `python scripts/assignments.py` first")
    config = student_config(yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")), root, execute)
    out.mkdir(parents=True, exist_ok=True)
    header = "# Generated by scripts/build_student_edition.py; do not edit.\n"
    (out / "_toc.yml").write_text(header + yaml.safe_dump(toc, sort_keys=False))
    (out / "_config.yml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    cmd = [jupyter_book(), "build", str(root), "--path-output", str(out)]
    cmd += ["--toc", str(out / "_toc.yml"), "--config", str(out / "_config.yml")]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python scripts/build_student_edition.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student", help="build folder (default: _build/student)")
    parser.add_argument("--execute", action="store_true", help="execute the lectures (through the main build's cache)")
    parser.add_argument("--strict", action="store_true", help="warnings are errors, as in the tests")
    args = parser.parse_args(argv)
    try:
        done = build_student_edition(out=args.out, execute=args.execute, strict=args.strict)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode == 0:
        print(f"Student edition: {(args.out / '_build' / 'html' / 'index.html').resolve()}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
