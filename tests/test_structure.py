"""The structure every notebook with exercises keeps: numbered sections and exercises that never skip or
repeat, one numbering for coded and pen-and-paper exercises, a statement before every stub, and worked
solutions that the student copies replace by an answer cell."""

from __future__ import annotations

import re
import statistics
from typing import Any

import assignments  # scripts/assignments.py (tests/helpers.py puts scripts/ on the path)
import pytest
from helpers import ROOT, SOURCE_NOTEBOOKS, cell_source, read_notebook

SOURCES = assignments.sources(ROOT)
IDS = [p.relative_to(ROOT).as_posix() for p in SOURCES]
SECTION = re.compile(r"^## (\d+)\. \S", re.MULTILINE)
EXERCISE = re.compile(r"^#+ Exercise (\d+)( \((?:pen and paper|experiment)\))?: (\S.*)$", re.MULTILINE)
ANY_EXERCISE_HEADING = re.compile(r"^(#+ .*\bexercise\b(?!s)|\*\*Exercise \d)", re.MULTILINE | re.IGNORECASE)
SOLUTION_DETAILS = "<summary>Solution</summary>"
HINT = re.compile(r"<summary>\s*Hint( \d)?\s*</summary>")
LONGEST_CODE_CELL = 40  # lines: longer cells are split into steps with a sentence between them
MEDIAN_CODE_CELL = 12  # lines: the book reads in small steps (the best lecture books sit near 9)


def _numbers(pattern: re.Pattern[str], cells: list[dict[str, Any]]) -> list[int]:
    """The numbers of every heading the pattern matches, in order."""
    return [int(m.group(1)) for c in cells if c["cell_type"] == "markdown" for m in pattern.finditer(cell_source(c))]


def problems(nb: dict[str, Any]) -> list[str]:
    """What breaks the structure of one notebook (an empty list when nothing does)."""
    cells, found = nb["cells"], []
    for name, pattern in (("section", SECTION), ("exercise", EXERCISE)):
        numbers = _numbers(pattern, cells)
        if numbers != list(range(1, len(numbers) + 1)):
            found.append(f"{name} numbers {numbers} skip or repeat: they must run 1, 2, 3, ...")
    for c in cells:
        if c["cell_type"] != "markdown":
            continue
        for m in ANY_EXERCISE_HEADING.finditer(cell_source(c)):
            line = cell_source(c)[m.start() :].split("\n", 1)[0]
            if not EXERCISE.match(line):
                found.append(
                    f"{line!r}: an exercise heading reads '### Exercise N: title', or with '(pen and paper)' or '(experiment)' after N"
                )
    heading, statement, pen_and_paper = None, "", False
    for i, c in enumerate(cells):
        text = cell_source(c)
        if c["cell_type"] == "markdown":
            headings = list(EXERCISE.finditer(text))
            m = headings[-1] if headings else None
            if m is not None:
                if pen_and_paper:
                    found.append(f"{heading!r} has no worked solution between solution markers before the next exercise")
                heading, pen_and_paper = m.group(0), m.group(2) == " (pen and paper)"
                statement = text[m.end() :]
                if assignments.is_marked(c):
                    found.append(f"{heading!r}: its worked solution shares the statement's cell; give it a cell of its own")
            elif assignments.is_marked(c):
                pen_and_paper = False  # its worked solution, which the student copy replaces by an answer cell
            elif heading is not None:
                statement += text
        elif c["cell_type"] == "code" and assignments.is_marked(c):
            if heading is None:
                found.append(f"cell {i}: a stub with no 'Exercise N: ...' heading before it")
            elif len(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", statement)).strip()) < 60:
                found.append(f"cell {i}: {heading!r} states too little before its stub: say what must hold")
            elif not 1 <= len(HINT.findall(statement)) <= 2:
                found.append(
                    f"cell {i}: {heading!r} has {len(HINT.findall(statement))} folded hints; "
                    "give one or two (<details><summary>Hint 1</summary> ...), the first conceptual"
                )
            heading, statement = None, ""
    if pen_and_paper:
        found.append(f"{heading!r} has no worked solution between solution markers")
    return found


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_structure_of_every_source(source):
    assert problems(read_notebook(source)) == []


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_student_copies_hold_no_worked_solution(source):
    student = read_notebook(assignments.student_path(source))
    texts = [cell_source(c) for c in student["cells"] if c["cell_type"] == "markdown"]
    assert not [t for t in texts if SOLUTION_DETAILS in t], "a worked solution is left in the student copy"
    exercises = sum(1 for t in texts for m in EXERCISE.finditer(t) if m.group(2) == " (pen and paper)")
    prompts = sum(t.count(assignments.ANSWER_PROMPT) for t in texts)
    assert prompts >= exercises, f"{exercises} pen-and-paper exercises but {prompts} answer cells"


def test_notebooks_without_exercises_have_no_exercise_headings():
    for path in set(SOURCE_NOTEBOOKS) - set(SOURCES):
        assert not EXERCISE.search("\n".join(cell_source(c) for c in read_notebook(path)["cells"])), path.name


def _nb(*cells: tuple[str, str]) -> dict[str, Any]:
    """A notebook of (kind, source) cells."""
    return {"cells": [{"cell_type": k, "source": s, "metadata": {}} for k, s in cells]}


HINTS = "<details>\n<summary>Hint 1</summary>\n\nA row is one example.\n\n</details>"
STATEMENT = f"Write f(x) for a tensor x of shape [N, d_x]: it returns the row sums, a tensor of shape [N].\n\n{HINTS}"
EX_A, EX_B = f"### Exercise 1: a\n\n{STATEMENT}", f"### Exercise 1: b\n\n{STATEMENT}"
STUB = "def f(x):\n    ### BEGIN SOLUTION\n    return x.sum(1)\n    ### END SOLUTION"
WORKED = "<!-- ### BEGIN SOLUTION -->\n<details>\n<summary>Solution</summary>\n\nIt is.\n\n</details>\n<!-- ### END SOLUTION -->"


@pytest.mark.parametrize(
    ("nb", "fragment"),
    [
        (_nb(("markdown", "## 1. A\n\n## 3. C")), "section numbers [1, 3]"),
        (_nb(("markdown", "## 1. A\n\n## 1. B")), "section numbers [1, 1]"),
        (
            _nb(
                ("markdown", f"### Exercise 1: a\n\n{STATEMENT}"),
                ("code", STUB),
                ("markdown", f"### Exercise 1: b\n\n{STATEMENT}"),
                ("code", STUB),
            ),
            "exercise numbers [1, 1]",
        ),
        (_nb(("markdown", f"### Exercise 2: a\n\n{STATEMENT}"), ("code", STUB)), "exercise numbers [2]"),
        (_nb(("markdown", EX_A), ("code", STUB), ("code", STUB)), "a stub with no 'Exercise N"),
        (_nb(("code", STUB)), "a stub with no 'Exercise N"),
        (_nb(("markdown", "### Exercise 1: a"), ("code", STUB)), "states too little"),
        (_nb(("markdown", f"### Exercise 1: a\n\n{STATEMENT.replace(HINTS, '')}"), ("code", STUB)), "has 0 folded hints"),
        (_nb(("markdown", f"### Exercise 1: a\n\n{STATEMENT}\n\n{HINTS}\n\n{HINTS}"), ("code", STUB)), "has 3 folded hints"),
        (_nb(("markdown", "### A further exercise (pen and paper): a\n\nShow it."), ("markdown", WORKED)), "an exercise heading reads"),
        (_nb(("markdown", "**Exercise 1 (a bold label).** Show it."), ("markdown", WORKED)), "an exercise heading reads"),
        (
            _nb(
                ("markdown", "### Exercise 1 (pen and paper): a\n\nShow it.\n\n<details>\n<summary>Solution</summary>\nIt is.\n</details>")
            ),
            "no worked solution",
        ),
        (_nb(("markdown", f"### Exercise 1 (pen and paper): a\n\nShow it.\n\n{WORKED}")), "shares the statement's cell"),
        (
            _nb(
                ("markdown", "### Exercise 1 (pen and paper): a\n\nShow it."),
                ("markdown", f"### Exercise 2: b\n\n{STATEMENT}"),
                ("code", STUB),
            ),
            "no worked solution",
        ),
    ],
)
def test_the_structure_check_catches_each_break(nb, fragment):
    assert any(fragment in p for p in problems(nb)), problems(nb)


def test_the_structure_check_passes_a_well_formed_notebook():
    nb = _nb(
        ("markdown", "## 1. A"),
        ("markdown", f"### Exercise 1: a\n\n{STATEMENT}"),
        ("code", STUB),
        ("markdown", "## 2. B\n\n### Exercise 2 (pen and paper): b\n\nShow it."),
        ("markdown", WORKED),
    )
    assert problems(nb) == []


def _code_cell_lengths() -> list[tuple[int, str]]:
    """(lines, 'notebook cell i') for every code cell of every source notebook."""
    return [
        (len(cell_source(c).strip("\n").splitlines()), f"{path.name} cell {i}")
        for path in SOURCE_NOTEBOOKS
        for i, c in enumerate(read_notebook(path)["cells"])
        if c["cell_type"] == "code"
    ]


def test_code_cells_are_short_enough_to_take_in():
    lengths = sorted(_code_cell_lengths(), reverse=True)
    print("longest code cells:", ", ".join(f"{where} ({n} lines)" for n, where in lengths[:8]))
    too_long = [f"{where} ({n} lines)" for n, where in lengths if n > LONGEST_CODE_CELL]
    assert not too_long, f"split these into steps with a sentence between them (at most {LONGEST_CODE_CELL} lines): {too_long}"
    median = statistics.median(n for n, _ in lengths)
    assert median <= MEDIAN_CODE_CELL, f"the median code cell has {median} lines; split the longest cells into steps"
