"""Make the student copies of the labs from their solution sources.

    python -m utils.assignments          # rewrite labs/*.ipynb from labs/solutions/*.ipynb
    python -m utils.assignments --check  # exit 1 when a student copy is out of date

Between `### BEGIN SOLUTION` and `### END SOLUTION`, code becomes a stub that raises
NotImplementedError naming the exercise, and markdown becomes an answer prompt. In markdown the
markers may be wrapped in an HTML comment (`<!-- ### BEGIN SOLUTION -->`) so the page hides them.
The exercise's name is the latest markdown heading that contains "Exercise".
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

from utils.config import REPO_ROOT

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_PROMPT = "*Your answer here.*"
SOURCES = REPO_ROOT / "labs" / "solutions"
_HEADING = re.compile(r"^#+\s*(.*Exercise.*?)\s*$", re.MULTILINE)


class AssignmentError(ValueError):
    """A solution source whose markers cannot be turned into a student copy."""


def _source(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _marker(line: str) -> str:
    """A line without surrounding blanks or an HTML comment, so `<!-- ### BEGIN SOLUTION -->` also marks."""
    text = line.strip()
    if text.startswith("<!--") and text.endswith("-->"):
        text = text[4:-3].strip()
    return text


def _strip_regions(text: str, replacement: str, where: str, code: bool) -> str:
    """Replace every marked region in text; code stubs keep the BEGIN line's indentation."""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        stripped = _marker(line)
        if stripped.startswith(BEGIN):
            if inside:
                raise AssignmentError(f"{where}: '{BEGIN}' inside another solution region.")
            inside = True
            indent = line[: len(line) - len(line.lstrip())] if code else ""
            out.append(indent + replacement)
        elif stripped.startswith(END):
            if not inside:
                raise AssignmentError(f"{where}: '{END}' without a matching '{BEGIN}'.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AssignmentError(f"{where}: '{BEGIN}' is never closed by '{END}'.")
    return "\n".join(out)


def make_student_notebook(nb: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """Return the student copy of a solution notebook (a new dict; the input is unchanged)."""
    student = copy.deepcopy(nb)
    exercise = "this exercise"
    for i, cell in enumerate(student["cells"]):
        text = _source(cell)
        where = f"{name}, cell {i}"
        marked = BEGIN in text or END in text
        if cell["cell_type"] == "markdown":
            if marked:
                text = _strip_regions(text, ANSWER_PROMPT, where, code=False)
            found = _HEADING.findall(text)
            if found:
                exercise = found[-1].strip("*_ ")
        elif cell["cell_type"] == "code":
            if marked:
                stub = f"raise NotImplementedError({f'{exercise}: write your code here'!r})"
                text = _strip_regions(text, stub, where, code=True)
            cell["outputs"] = []
            cell["execution_count"] = None
        elif marked:
            raise AssignmentError(f"{where}: solution markers in a raw cell.")
        cell["source"] = text
        cell.get("metadata", {}).pop("execution", None)
    return student


def student_path(source: Path) -> Path:
    """labs/solutions/NN_topic.ipynb -> labs/NN_topic.ipynb."""
    return source.parent.parent / source.name


def render(nb: dict[str, Any]) -> str:
    """Serialise a notebook the way the repository stores it."""
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def build(source: Path) -> str:
    """The text of the student copy made from one solution source."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    return render(make_student_notebook(nb, source.name))


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) every student copy; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m utils.assignments", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a student copy differs from its source")
    parser.add_argument("--sources", type=Path, default=SOURCES, help="folder of solution notebooks")
    args = parser.parse_args(argv)
    sources = sorted(args.sources.glob("*.ipynb"))
    stale = []
    for src in sources:
        try:
            text = build(src)
        except AssignmentError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        dst = student_path(src)
        current = dst.read_text(encoding="utf-8") if dst.exists() else None
        if args.check:
            if current != text:
                stale.append(dst)
        elif current != text:
            dst.write_text(text, encoding="utf-8")
            print(f"wrote {dst.relative_to(dst.parent.parent)}")
    if args.check and stale:
        names = ", ".join(str(p.name) for p in stale)
        print(f"Student copies out of date: {names}. Run `python -m utils.assignments` to regenerate them.", file=sys.stderr)
        return 1
    if args.check:
        print(f"{len(sources)} student copies up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
