"""scripts/assignments.py: stubs, answer prompts, marker errors, and the --check mode."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import assignments  # scripts/assignments.py (tests/helpers.py puts scripts/ on the path)
import pytest
from helpers import ROOT


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
    assert "        raise NotImplementedError('Exercise 1: write your code here')" in src
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


LINKS = assignments.links_cell("https://github.com/o/r", "dev", "labs/01_x.ipynb", "labs/solutions/01_x.ipynb")


def test_colab_url_names_repository_branch_and_path():
    url = assignments.colab_url("https://github.com/o/r", "dev", "labs/01_x.ipynb")
    assert url == "https://colab.research.google.com/github/o/r/blob/dev/labs/01_x.ipynb"


def test_links_cell_opens_the_student_copy_and_the_source():
    text = LINKS["source"]
    exercises = text.index("Do the exercises")
    solutions = text.index("With solutions")
    assert text.rfind("/blob/dev/labs/01_x.ipynb", 0, exercises) > 0
    assert text.rfind("/blob/dev/labs/solutions/01_x.ipynb", exercises, solutions) > 0


def test_prepare_source_folds_solution_cells_and_puts_the_links_after_the_title():
    source = nb(md("# Lab"), *SOURCE["cells"])
    out = assignments.prepare_source(source, LINKS)
    assert out["cells"][1] == LINKS
    tags = [c["metadata"].get("tags", []) for c in out["cells"] if c["cell_type"] == "code"]
    assert tags[0] == [assignments.SOLUTION_TAG], "the solution cell is not folded"
    assert assignments.SOLUTION_TAG not in tags[1], "a check cell is folded"
    assert "tags" not in source["cells"][1]["metadata"], "the input must not be modified"
    again = assignments.prepare_source(out, LINKS)
    assert again == out, "preparing twice changes the notebook"
    moved = assignments.prepare_source(out, assignments.links_cell("https://github.com/x/y", "main", "a", "b"))
    assert len(moved["cells"]) == len(out["cells"]) and "github/x/y" in moved["cells"][1]["source"]


def test_prepare_source_puts_the_links_right_under_the_title_line():
    source = nb({**md("# Lab 1: a GAN\n\nIn this lab you build a GAN."), "id": "t1"}, {**code("x = 1"), "id": "c1"})
    out = assignments.prepare_source(source, LINKS)
    texts = [assignments.cell_source(c) for c in out["cells"]]
    assert texts[0] == "# Lab 1: a GAN" and out["cells"][1] == LINKS
    assert texts[2] == "In this lab you build a GAN." and texts[3] == "x = 1"
    assert len({c.get("id") for c in out["cells"]}) == len(out["cells"]), "cell ids must stay unique"
    assert assignments.prepare_source(out, LINKS) == out, "preparing twice changes the notebook"


def test_prepare_source_needs_a_title_and_balanced_markers():
    with pytest.raises(assignments.AssignmentError, match="title"):
        assignments.prepare_source(nb(code("x = 1")), LINKS)
    with pytest.raises(assignments.AssignmentError, match="title"):
        assignments.prepare_source(nb(md("Some text, no title"), code("x = 1")), LINKS)
    with pytest.raises(assignments.AssignmentError, match="never closed"):
        assignments.prepare_source(nb(md("# T"), code("### BEGIN SOLUTION\nx = 1")), LINKS)


def test_student_copy_shows_its_stubs_unfolded():
    out = assignments.make_student_notebook(assignments.prepare_source(nb(md("# Lab"), *SOURCE["cells"]), LINKS))
    assert all(assignments.SOLUTION_TAG not in c["metadata"].get("tags", []) for c in out["cells"])


def test_filling_the_stubs_gives_back_the_source():
    source = nb(
        md("# Lab"),
        *SOURCE["cells"],
        code(
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\n"
            "def g():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\n"
        ),
    )
    student = assignments.make_student_notebook(source)
    assert assignments.fill_stubs(student, source) == [c["source"] for c in source["cells"] if c["cell_type"] == "code"]


def test_filling_notices_a_copy_that_does_not_match_its_source():
    student = assignments.make_student_notebook(SOURCE)
    with pytest.raises(assignments.AssignmentError, match="no solution region"):
        assignments.fill_stubs(student, nb(code("class G:\n    pass"), code("check(G)")))
    with pytest.raises(assignments.AssignmentError, match="code cells"):
        assignments.fill_stubs(student, nb(code("x = 1")))
    edited = copy.deepcopy(student)
    edited["cells"][2]["source"] = "check(G, strict=True)"
    assert assignments.fill_stubs(edited, SOURCE) != [c["source"] for c in SOURCE["cells"] if c["cell_type"] == "code"]


def _tiny_book(root: Path) -> Path:
    """A book folder with a _config.yml and one lab source; returns the source's path."""
    (root / "_config.yml").write_text("repository:\n  url: https://github.com/o/r\n  branch: main\n")
    src_dir = root / "labs" / "solutions"
    src_dir.mkdir(parents=True)
    (src_dir / "01_x.ipynb").write_text(json.dumps(nb(md("# Lab 1"), *SOURCE["cells"])))
    return src_dir / "01_x.ipynb"


def test_check_mode_detects_stale_copies_and_sources(tmp_path, capsys):
    source = _tiny_book(tmp_path)
    args = ["--root", str(tmp_path)]
    assert assignments.main(["--check", *args]) == 1  # untagged source, missing copy
    assert "labs/solutions/01_x.ipynb" in capsys.readouterr().err
    assert assignments.main(args) == 0
    student = tmp_path / "labs" / "01_x.ipynb"
    assert student.is_file()
    assert assignments.main(["--check", *args]) == 0
    student.write_text(student.read_text().replace("write your code here", "edited"))
    assert assignments.main(["--check", *args]) == 1
    assert "python scripts/assignments.py" in capsys.readouterr().err
    assert assignments.main(args) == 0
    text = source.read_text()
    source.write_text(text.replace(f'"{assignments.SOLUTION_TAG}"', '"other"'))
    assert assignments.main(["--check", *args]) == 1, "an unfolded solution cell went unnoticed"


def test_missing_repository_is_a_clear_error(tmp_path, capsys):
    _tiny_book(tmp_path)
    (tmp_path / "_config.yml").write_text("title: x\n")
    assert assignments.main(["--root", str(tmp_path)]) == 2
    assert "repository.url" in capsys.readouterr().err


def test_export_cells_become_a_module_with_their_solutions(tmp_path):
    """Cells starting with `#| export` are written, solutions filled in and markers dropped, to lab_code/."""
    exported = "#| export\nclass Net:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION"
    source = nb(md("# Lab 1"), code("SIZE = 3"), code("#| export\nSIZE = 2"), code(exported))
    text = assignments.exported_module(source, "labs/solutions/01_x.ipynb")
    assert "SIZE = 2" in text and "SIZE = 3" not in text, "only the marked cells are exported"
    assert "return 1" in text and "BEGIN SOLUTION" not in text and "#| export" not in text.split('"""', 2)[2]
    namespace: dict = {}
    exec(compile(text, "gan_lab.py", "exec"), namespace)  # the module runs as plain Python
    assert namespace["Net"]().f() == 1 and namespace["SIZE"] == 2
    assert assignments.exported_module(nb(md("# L"), code("x = 1")), "x.ipynb") is None
    assert assignments.module_path(Path("/r/labs/solutions/01_gan_lab.ipynb")) == Path("/r/lab_code/gan_lab.py")


def test_a_change_to_an_exported_cell_reaches_the_module(tmp_path, capsys):
    """Editing the lab source makes --check fail until the module is regenerated, which then holds the edit."""
    source = _tiny_book(tmp_path)
    book = json.loads(source.read_text())
    book["cells"].append(code("#| export\nWIDTH = 32"))
    source.write_text(json.dumps(book))
    args = ["--root", str(tmp_path)]
    assert assignments.main(args) == 0
    module = tmp_path / "lab_code" / "x.py"
    assert "WIDTH = 32" in module.read_text()
    source.write_text(source.read_text().replace("WIDTH = 32", "WIDTH = 48"))
    assert assignments.main(["--check", *args]) == 1
    assert "lab_code/x.py" in capsys.readouterr().err
    assert assignments.main(args) == 0 and "WIDTH = 48" in module.read_text()


def test_links_of_every_notebook_resolve_from_its_own_folder():
    """A student copy sits one folder above its source: its relative links are rewritten to match."""
    from helpers import ALL_NOTEBOOKS, cell_source, read_notebook

    link = re.compile(r"\]\((?!https?:|#|mailto:|/)([^)\s]+\.(?:md|ipynb|png|jpg|svg|html))(?:#[^)\s]*)?\)")
    for path in ALL_NOTEBOOKS:
        for cell in read_notebook(path)["cells"]:
            if cell["cell_type"] == "markdown":
                for target in link.findall(cell_source(cell)):
                    assert (path.parent / target).resolve().is_file(), f"{path.relative_to(ROOT)}: the link {target} leads nowhere"


def test_relink_moves_relative_links_one_folder_up_and_leaves_the_rest():
    text = "[n](../../notation.md) [a](../about.md#top) [w](https://x.org/a.md) [s](#sec) [f](fig.png)"
    assert assignments.relink(text) == "[n](../notation.md) [a](about.md#top) [w](https://x.org/a.md) [s](#sec) [f](solutions/fig.png)"


def test_prepare_source_lists_the_exercises_first_and_shows_progress_last():
    source = nb(
        md("# Lab"),
        code("from utils.checks import gan_lab as checks"),
        md("## Exercise 1: the generator (your design)\nWrite it."),
        code("def g():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        code("v = checks.check_generator(g)"),
        {**md("### Exercise 2 (pen and paper): a proof\nShow it."), "metadata": {"minutes": 25}},
        md("## References\n\n- A paper."),
    )
    out = assignments.prepare_source(source, LINKS)
    texts = [assignments.cell_source(c) for c in out["cells"]]
    listing = next(t for t in texts if "Exercises on this page" in t)
    assert texts.index(listing) == 2, "the list comes before the first code cell"
    assert "| 1 | the generator | your design | 20 |" in listing and "| 2 | a proof | pen and paper | 25 |" in listing
    assert "(2, about 45 minutes" in listing
    assert texts[-1].startswith("## References") and texts[-2] == 'from utils import progress\n\nprogress.show("gan_lab", ["generator"])'
    assert assignments.prepare_source(out, LINKS) == out, "preparing twice changes the notebook"


def test_the_instructors_table_lists_every_exercise_as_the_pages_do():
    """instructors.md's table of exercises: one row per exercise heading, with its kind and minutes."""
    text = (ROOT / "instructors.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (.+?) \| (.+?) \| (.+?) \| (\d+) \|$", text, re.MULTILINE)
    table = {(nb, int(n)): (title, kind, int(minutes)) for nb, n, title, kind, _, minutes in rows}
    expected = {}
    for src in assignments.sources(ROOT):
        for n, title, kind, minutes in assignments.exercises(json.loads(src.read_text(encoding="utf-8"))["cells"]):
            expected[(src.stem, n)] = (title, kind, minutes)
    assert table == expected, "update the table of exercises in instructors.md"
