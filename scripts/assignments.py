"""Make the student copies of the lectures and labs from their solution sources.

    python scripts/assignments.py          # rewrite lectures/*.ipynb and labs/*.ipynb from their solutions/ sources
    python scripts/assignments.py --check  # exit 1 when a source or a student copy is out of date
    python scripts/assignments.py labs/solutions/01_gan_lab.ipynb   # only the sources named

Between `### BEGIN SOLUTION` and `### END SOLUTION`, code becomes a stub that raises
NotImplementedError naming the exercise, and markdown becomes an answer prompt. In markdown the
markers may be wrapped in an HTML comment (`<!-- ### BEGIN SOLUTION -->`) so the page hides them.
The exercise's name is the latest markdown heading that contains "Exercise".

Code cells whose first line is `#| export` are also written, solutions filled in, to a module of
`lab_code/` named after the source (`labs/solutions/01_gan_lab.ipynb` -> `lab_code/gan_lab.py`), so that
lab 3 and the benchmarks import the very code the labs teach instead of a retyped copy.

The sources are kept in step too: a code cell holding a solution gets the `hide-input` tag (the website
folds its code behind a click and shows its output), and the cell after the title holds two Colab links,
"Do the exercises" (the student copy) and "With solutions" (the source), made from `_config.yml`'s
repository and branch.
"""

from __future__ import annotations

import argparse
import copy
import json
import posixpath
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the repository; found without importing the course helpers (and torch)
for _path in (ROOT / "scripts", ROOT):  # book_files beside this file; `utils.progress`, which reads a notebook's checks
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from book_files import cell_source, render_notebook  # noqa: E402

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_PROMPT = "*Your answer here.*"
SOURCE_DIRS = ("lectures/solutions", "labs/solutions")
SOLUTION_TAG = "hide-input"
LINKS_TAG = "colab-links"
LIST_TAG = "exercise-list"
PROGRESS_TAG = "exercise-progress"
MINUTES = {"coded": 10, "your design": 20, "pen and paper": 15, "experiment": 20}  # unless the heading's cell says {"minutes": N}
_EXERCISE = re.compile(r"^#+ Exercise (\d+)(?: \((pen and paper|experiment)\))?: (.+)$", re.MULTILINE)
COLAB = "https://colab.research.google.com/github"
EXPORT = "#| export"
EXPORT_DIR = "lab_code"
_MODULE_HEADER = '''"""The cells of {source} marked `#| export`, with their solutions.

Made by `python scripts/assignments.py` from the lab: edit the lab, never this file.
"""

# ruff: noqa
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from utils import config

device = config.get_device()
'''
_HEADING = re.compile(r"^#+\s*(.*Exercise.*?)\s*$", re.MULTILINE)
_LOCAL_LINK = re.compile(r"\]\((?!https?:|#|mailto:|/)([^)\s]+\.(?:md|ipynb|png|jpg|svg|html)(?:#[^)\s]*)?)\)")
_STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\('(?P<name>.*): write your code here'\)$")


class AssignmentError(ValueError):
    """A solution source whose markers cannot be turned into a student copy."""


def _marker(line: str) -> str:
    """A line without surrounding blanks or an HTML comment, so `<!-- ### BEGIN SOLUTION -->` also marks."""
    text = line.strip()
    if text.startswith("<!--") and text.endswith("-->"):
        text = text[4:-3].strip()
    return text


def _regions(text: str, where: str) -> list[tuple[int, int]]:
    """The (BEGIN line, END line) index pairs of the marked regions in text, validated."""
    found: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(text.split("\n")):
        stripped = _marker(line)
        if stripped.startswith(BEGIN):
            if start is not None:
                raise AssignmentError(f"{where}: '{BEGIN}' inside another solution region.")
            start = i
        elif stripped.startswith(END):
            if start is None:
                raise AssignmentError(f"{where}: '{END}' without a matching '{BEGIN}'.")
            found.append((start, i))
            start = None
    if start is not None:
        raise AssignmentError(f"{where}: '{BEGIN}' is never closed by '{END}'.")
    return found


def _strip_regions(text: str, replacement: str, where: str, code: bool) -> str:
    """Replace every marked region in text; code stubs keep the BEGIN line's indentation."""
    lines = text.split("\n")
    out: list[str] = []
    last = 0
    for start, end in _regions(text, where):
        out.extend(lines[last:start])
        line = lines[start]
        indent = line[: len(line) - len(line.lstrip())] if code else ""
        out.append(indent + replacement)
        last = end + 1
    out.extend(lines[last:])
    return "\n".join(out)


def is_marked(cell: dict[str, Any]) -> bool:
    """True when a cell holds solution markers."""
    text = cell_source(cell)
    return BEGIN in text or END in text


def _tags(cell: dict[str, Any]) -> list[str]:
    """The cell's tags (a list that may be empty)."""
    return list(cell.get("metadata", {}).get("tags", []))


def _set_tags(cell: dict[str, Any], tags: list[str]) -> None:
    """Store tags on a cell, dropping the key when there are none."""
    meta = cell.setdefault("metadata", {})
    if tags:
        meta["tags"] = tags
    else:
        meta.pop("tags", None)


def colab_url(repo_url: str, branch: str, path: str) -> str:
    """The Colab address of a notebook at path in a GitHub repository's branch."""
    return f"{COLAB}/{repo_url.removeprefix('https://github.com/').strip('/')}/blob/{branch}/{path}"


def links_cell(repo_url: str, branch: str, student: str, source: str) -> dict[str, Any]:
    """The markdown cell with the two Colab links of a notebook with exercises."""
    text = (
        "<!-- Made by `python scripts/assignments.py` from _config.yml: do not edit. -->\n"
        f'<a class="colab-link" href="{colab_url(repo_url, branch, student)}">'
        "&#9654; Do the exercises in Colab</a>&nbsp;&nbsp;\n"
        f'<a class="colab-link colab-link-solutions" href="{colab_url(repo_url, branch, source)}">'
        "With solutions in Colab</a>"
    )
    return {"cell_type": "markdown", "id": LINKS_TAG, "metadata": {"tags": [LINKS_TAG]}, "source": text}


def exercises(cells: list[dict[str, Any]]) -> list[tuple[int, str, str, int]]:
    """(number, title, kind, minutes) of every exercise heading, in order."""
    found = []
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for m in _EXERCISE.finditer(cell_source(cell)):
            title = m.group(3).strip()
            kind = m.group(2) or ("your design" if "(your design)" in title else "coded")
            minutes = cell.get("metadata", {}).get("minutes", MINUTES[kind])
            found.append((int(m.group(1)), title.replace(" (your design)", ""), kind, int(minutes)))
    return found


def exercise_list_cell(found: list[tuple[int, str, str, int]]) -> dict[str, Any]:
    """The generated markdown cell listing a notebook's exercises."""
    rows = [f"| {n} | {title} | {kind} | {minutes} |" for n, title, kind, minutes in found]
    text = (
        "<!-- Made by `python scripts/assignments.py` from the exercise headings: do not edit. -->\n"
        f"**Exercises on this page** ({len(found)}, about {sum(f[3] for f in found)} minutes; "
        "the end of the page shows which checks you have passed):\n\n"
        "| # | exercise | kind | minutes |\n|---:|---|---|---:|\n" + "\n".join(rows)
    )
    return {"cell_type": "markdown", "id": LIST_TAG, "metadata": {"tags": [LIST_TAG]}, "source": text}


def progress_cells(module: str, checks: list[str]) -> list[dict[str, Any]]:
    """The generated heading and code cell that show a notebook's checks at its end."""
    one_line = f"progress.show({module!r}, {checks!r})".replace("'", '"')
    if len(one_line) > 88:
        items = "".join(f'        "{c}",\n' for c in checks)
        one_line = f'progress.show(\n    "{module}",\n    [\n{items}    ],\n)'
    md = (
        "## Your progress\n\n<!-- Made by `python scripts/assignments.py`: do not edit. -->\n"
        "The checks of this page: passed, failed, or not run yet (each check records its latest verdict), and "
        "how far you are through the course."
    )
    return [
        {"cell_type": "markdown", "id": f"{PROGRESS_TAG}-md", "metadata": {"tags": [PROGRESS_TAG]}, "source": md},
        {
            "cell_type": "code",
            "id": PROGRESS_TAG,
            "metadata": {"tags": [PROGRESS_TAG]},
            "execution_count": None,
            "outputs": [],
            "source": f"from utils import progress\n\n{one_line}",
        },
    ]


def _with_generated_cells(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """cells with the exercise list before the first code cell and the progress cells before the references."""
    from utils.progress import notebook_checks  # imported when needed: the tool finds the repository without it

    generated = (LIST_TAG, PROGRESS_TAG)
    cells = [c for c in cells if not set(_tags(c)) & set(generated)]
    found = exercises(cells)
    if found:
        first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
        cells.insert(first_code, exercise_list_cell(found))
    code = "\n".join(cell_source(c) for c in cells if c["cell_type"] == "code")
    checks = notebook_checks(code)
    if checks:
        end = next((i for i, c in enumerate(cells) if cell_source(c).startswith("## References")), len(cells))
        cells[end:end] = progress_cells(*checks)
    return cells


def prepare_source(nb: dict[str, Any], links: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """Return the source as stored: solution cells tagged hide-input, the links cell right after the title."""
    out = copy.deepcopy(nb)
    cells = [c for c in out["cells"] if LINKS_TAG not in _tags(c)]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        _regions(cell_source(cell), f"{name}, cell {i}")
        tags = _tags(cell)
        if is_marked(cell) and SOLUTION_TAG not in tags:
            _set_tags(cell, [*tags, SOLUTION_TAG])
    if not cells or cells[0]["cell_type"] != "markdown" or not cell_source(cells[0]).startswith("# "):
        raise AssignmentError(f"{name}: the first cell must be the markdown title, a line starting with '# '.")
    title, _, rest = cell_source(cells[0]).partition("\n")
    if rest.strip():  # the links go right under the title line: the introduction becomes a cell of its own
        intro = {**copy.deepcopy(cells[0]), "id": f"{cells[0].get('id', 'title')}-intro", "source": rest.lstrip("\n")}
        cells = [{**cells[0], "source": title}, intro, *cells[1:]]
    out["cells"] = _with_generated_cells([cells[0], copy.deepcopy(links), *cells[1:]])
    return out


def relink(text: str) -> str:
    """Markdown links of a source in solutions/, made to resolve from its student copy one folder up."""

    def moved(m: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join("solutions", m.group(1)))
        return f"]({target})"

    return _LOCAL_LINK.sub(moved, text)


def make_student_notebook(nb: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """Return the student copy of a solution notebook (a new dict; the input is unchanged)."""
    student = copy.deepcopy(nb)
    exercise = "this exercise"
    for i, cell in enumerate(student["cells"]):
        text = cell_source(cell)
        where = f"{name}, cell {i}"
        marked = is_marked(cell)
        if cell["cell_type"] == "markdown":
            text = relink(text)
            if marked:
                text = _strip_regions(text, ANSWER_PROMPT, where, code=False)
            found = _HEADING.findall(text)
            if found:  # the stub names the exercise by its number ("Exercise 3"), short enough for any line
                heading = found[-1].strip("*_ ")
                label = re.match(r"Exercise\s+\d+", heading)
                exercise = label.group(0) if label else heading
        elif cell["cell_type"] == "code":
            if marked:
                stub = f"raise NotImplementedError({f'{exercise}: write your code here'!r})"
                text = _strip_regions(text, stub, where, code=True)
                _set_tags(cell, [t for t in _tags(cell) if t != SOLUTION_TAG])  # the student's own code shows
            cell["outputs"] = []
            cell["execution_count"] = None
        elif marked:
            raise AssignmentError(f"{where}: solution markers in a raw cell.")
        cell["source"] = text
        cell.get("metadata", {}).pop("execution", None)
    return student


def fill_stubs(student: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """The student copy's code cells with every stub replaced by the source's solution region, in order."""
    filled = []
    src_cells = [c for c in source["cells"] if c["cell_type"] == "code"]
    stu_cells = [c for c in student["cells"] if c["cell_type"] == "code"]
    if len(src_cells) != len(stu_cells):
        raise AssignmentError(f"the student copy has {len(stu_cells)} code cells, its source {len(src_cells)}.")
    for stu, src in zip(stu_cells, src_cells, strict=True):
        src_lines = cell_source(src).split("\n")
        regions = [src_lines[a : b + 1] for a, b in _regions(cell_source(src), "source")]
        out: list[str] = []
        for line in cell_source(stu).split("\n"):
            if _STUB.match(line):
                if not regions:
                    raise AssignmentError(f"a stub with no solution region in its source: {line.strip()}")
                out.extend(regions.pop(0))
            else:
                out.append(line)
        filled.append("\n".join(out))
    return filled


def exported_module(nb: dict[str, Any], source: str) -> str | None:
    """The text of the module made of the source's `#| export` cells (marker lines dropped), or None."""
    cells = [cell_source(c) for c in nb["cells"] if c["cell_type"] == "code" and cell_source(c).startswith(EXPORT)]
    if not cells:
        return None
    bodies = []
    for text in cells:
        lines = text.split("\n")[1:]
        lines = [line for line in lines if not _marker(line).startswith((BEGIN, END))]
        bodies.append("\n".join(lines).strip("\n"))
    return _MODULE_HEADER.format(source=source) + "\n\n" + "\n\n\n".join(bodies) + "\n"


def module_path(source: Path) -> Path:
    """labs/solutions/01_gan_lab.ipynb -> lab_code/gan_lab.py (under the same root)."""
    return source.parent.parent.parent / EXPORT_DIR / f"{source.stem.split('_', 1)[1]}.py"


def student_path(source: Path) -> Path:
    """lectures/solutions/NN_topic.ipynb -> lectures/NN_topic.ipynb (and the same for labs)."""
    return source.parent.parent / source.name


def repository(root: Path) -> tuple[str, str]:
    """The (url, branch) of `repository` in root/_config.yml."""
    import yaml  # a build tool: imported here, so that `utils` imports without it

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    repo = config.get("repository") or {}
    if not repo.get("url"):
        raise AssignmentError(f"{root / '_config.yml'} names no repository.url: the Colab links need it.")
    return repo["url"], str(repo.get("branch", "main"))


def build(source: Path, root: Path = ROOT) -> tuple[str, str, str | None]:
    """The texts of the prepared source, of its student copy and of its exported module (None without one)."""
    url, branch = repository(root)
    rel = source.resolve().relative_to(root.resolve()).as_posix()
    links = links_cell(url, branch, student_path(Path(rel)).as_posix(), rel)
    nb = prepare_source(json.loads(source.read_text(encoding="utf-8")), links, source.name)
    return render_notebook(nb), render_notebook(make_student_notebook(nb, source.name)), exported_module(nb, rel)


def sources(root: Path = ROOT) -> list[Path]:
    """Every solution source under root."""
    return sorted(p for folder in SOURCE_DIRS for p in (root / folder).glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) every source and student copy; return the exit status."""
    parser = argparse.ArgumentParser(prog="python scripts/assignments.py", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a source or a student copy is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's folder (with _config.yml)")
    parser.add_argument("paths", nargs="*", type=Path, help="only these solution sources (default: all)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    found = [p.resolve() for p in args.paths] or sources(root)
    stale = []
    for src in found:
        try:
            source_text, student_text, module_text = build(src, root)
        except AssignmentError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        outputs = [(src, source_text), (student_path(src), student_text)]
        if module_text is not None:
            outputs.append((module_path(src), module_text))
        for path, text in outputs:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            if args.check:
                stale.append(path.relative_to(root).as_posix())
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(root).as_posix()}")
    if args.check and stale:
        print(f"Out of date: {', '.join(stale)}. Run `python scripts/assignments.py` to regenerate them.", file=sys.stderr)
        return 1
    if args.check:
        print(f"{len(found)} sources, their student copies and the exported lab code up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
