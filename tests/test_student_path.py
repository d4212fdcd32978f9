"""The student path: each student copy, run as is, says "not done yet" and stops cleanly; filled in, it is its source.

A student copy is run in fast mode from its first cell until it stops. Every check it reaches must print a
"not done yet" verdict, and the run must end either at a cell that needs the answers, which stops with
ExercisesNotFinished naming the unfinished checks (one line, no traceback from inside utils), or at the
notebook's end. The cells after that stop are never executed here: filling every stub with its source's
solution gives back the source's code cells exactly, and nbval executes the sources.
"""

from __future__ import annotations

import re

import assignments  # scripts/assignments.py (tests/helpers.py puts scripts/ on the path)
import nbformat
import pytest
from helpers import ROOT, cell_source, read_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

SOURCES = assignments.sources(ROOT)
IDS = [p.relative_to(ROOT).as_posix() for p in SOURCES]
VERDICT = re.compile(r"^\[(PASS|FAIL)\] ([^:]+): (.*)$", re.MULTILINE)


def test_every_notebook_with_exercises_has_a_source_and_a_student_copy():
    assert len(SOURCES) >= 8
    for src in SOURCES:
        assert assignments.student_path(src).is_file(), f"{src.name} has no student copy"
        assert any(assignments.is_marked(c) for c in read_notebook(src)["cells"]), f"{src.name} marks no solution"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_filling_the_stubs_gives_back_the_source(source):
    student = read_notebook(assignments.student_path(source))
    src = read_notebook(source)
    assert assignments.fill_stubs(student, src) == [cell_source(c) for c in src["cells"] if c["cell_type"] == "code"]


def _printed(cell: dict) -> str:
    """Everything a cell printed to stdout."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_student_copy_run_as_is_says_not_done_and_stops_cleanly(source):
    path = assignments.student_path(source)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        error = err
    ran = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
    checks = [c for c in ran if "checks.check_" in cell_source(c)]
    assert checks, f"{path.name}: the run stopped before the first check"
    for cell in checks:
        verdicts = VERDICT.findall(_printed(cell))
        assert verdicts, f"{path.name}: a check printed no verdict:\n{cell_source(cell)}"
        for mark, name, message in verdicts:
            assert mark == "FAIL" and message.startswith("not done yet"), f"{path.name}: [{mark}] {name}: {message}"
    if error is not None:
        assert error.ename == "ExercisesNotFinished", f"{path.name} stopped with a traceback:\n{str(error)[-2000:]}"
        assert "have not passed yet" in error.evalue
        names = {name for c in checks for _, name, _ in VERDICT.findall(_printed(c))}
        assert any(name in error.evalue for name in names), error.evalue
        last = ran[-1]
        tb = [line for o in last.outputs if o.get("output_type") == "error" for line in o.get("traceback", [])]
        assert len(tb) == 1 and "utils/" not in tb[0], f"{path.name}: the stop shows a traceback: {tb}"
