"""utils.assignments: stubs, answer prompts, marker errors, and the --check mode."""

from __future__ import annotations

import json

import pytest

from utils import assignments


def nb(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def md(src):
    return {"cell_type": "markdown", "metadata": {}, "source": src}


def code(src, outputs=None):
    return {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": outputs or [{"output_type": "stream"}], "source": src}


SOURCE = nb(
    md("## Exercise 1: the generator\nWrite it."),
    code("class G:\n    def forward(self, z):\n        ### BEGIN SOLUTION\n        return z * 2\n        ### END SOLUTION\n"),
    code("check(G)"),
    md("### Exercise 2: reflection\n### BEGIN SOLUTION\nGANs are sharper.\n### END SOLUTION"),
)


def test_code_regions_become_named_stubs():
    out = assignments.make_student_notebook(SOURCE)
    src = out["cells"][1]["source"]
    assert "return z * 2" not in src and "BEGIN SOLUTION" not in src
    assert "        raise NotImplementedError('Exercise 1: the generator: write your code here')" in src
    assert src.startswith("class G:\n    def forward(self, z):\n")


def test_markdown_answers_become_prompts_and_outputs_are_cleared():
    out = assignments.make_student_notebook(SOURCE)
    assert "GANs are sharper" not in out["cells"][3]["source"]
    assert assignments.ANSWER_PROMPT in out["cells"][3]["source"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in out["cells"] if c["cell_type"] == "code")
    assert SOURCE["cells"][1]["outputs"], "the source must not be modified"


def test_markers_hidden_in_html_comments_work_in_markdown():
    source = nb(md("## Exercise 3: why\n<!-- ### BEGIN SOLUTION -->\nBecause.\n<!-- ### END SOLUTION -->\nAfter."))
    text = assignments.make_student_notebook(source)["cells"][0]["source"]
    assert "Because" not in text and "SOLUTION" not in text
    assert text.endswith(assignments.ANSWER_PROMPT + "\nAfter.")


def test_stub_compiles_and_raises():
    src = assignments.make_student_notebook(SOURCE)["cells"][1]["source"]
    scope: dict = {}
    exec(src, scope)
    with pytest.raises(NotImplementedError, match="Exercise 1"):
        scope["G"]().forward(1)


@pytest.mark.parametrize(
    "bad,message",
    [
        ("x = 1\n### BEGIN SOLUTION\ny = 2\n", "never closed"),
        ("### END SOLUTION\n", "without a matching"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ],
)
def test_unbalanced_markers_are_refused(bad, message):
    with pytest.raises(assignments.AssignmentError, match=message):
        assignments.make_student_notebook(nb(code(bad)))


def test_check_mode_detects_stale_copies(tmp_path, capsys):
    src_dir = tmp_path / "labs" / "solutions"
    src_dir.mkdir(parents=True)
    (src_dir / "01_x.ipynb").write_text(json.dumps(SOURCE))
    args = ["--sources", str(src_dir)]
    assert assignments.main(["--check", *args]) == 1  # missing copy
    assert assignments.main(args) == 0
    student = tmp_path / "labs" / "01_x.ipynb"
    assert student.is_file()
    assert assignments.main(["--check", *args]) == 0
    student.write_text(student.read_text().replace("write your code here", "edited"))
    assert assignments.main(["--check", *args]) == 1
    assert "python -m utils.assignments" in capsys.readouterr().err
