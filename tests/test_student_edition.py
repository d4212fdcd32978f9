"""scripts/build_student_edition.py: the student edition lists the student copies, hides the solutions, executes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import assignments  # scripts/assignments.py (tests/helpers.py puts scripts/ on the path)
import build_student_edition as edition  # scripts/ (tests/helpers.py puts it on the path)
import yaml
from book_files import JUPYTER_CACHE, toc_data
from helpers import ROOT, book_config, toc_files

SECRET = "SECRET_ANSWER = 4242"


def test_student_toc_swaps_solutions_for_student_copies_and_drops_the_instructors_part():
    toc = {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "Lectures", "chapters": [{"file": "lectures/00_a"}, {"file": "lectures/solutions/01_b"}]},
            {
                "caption": "Labs",
                "chapters": [
                    {"file": "labs/about"},
                    {"file": "labs/solutions/01_gan", "sections": [{"file": "labs/solutions/01_extra"}]},
                ],
            },
            {"caption": "For instructors", "chapters": [{"file": "instructors"}, {"file": "reports/execution"}]},
        ],
    }
    out = edition.student_toc(toc)
    assert out == {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "Lectures", "chapters": [{"file": "lectures/00_a"}, {"file": "lectures/01_b"}]},
            {"caption": "Labs", "chapters": [{"file": "labs/about"}, {"file": "labs/01_gan", "sections": [{"file": "labs/01_extra"}]}]},
        ],
    }
    assert toc["parts"][1]["chapters"][1]["file"] == "labs/solutions/01_gan", "the input must not be modified"


def test_student_toc_of_this_book_names_existing_student_copies_only():
    toc = edition.student_toc(toc_data(ROOT))
    files = toc_files(toc=toc)
    assert not [f for f in files if "/solutions/" in f]
    assert "instructors" not in files
    lectures = [f.replace("solutions/", "") for f in toc_files() if f.startswith("lectures/")]
    assert [f for f in files if f.startswith("lectures/")] == lectures
    for f in files:
        assert any((ROOT / f).with_suffix(s).is_file() for s in (".ipynb", ".md")), f"{f} is in the student toc but missing"


def test_student_config_executes_nothing_unless_asked():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    off = edition.student_config(config, ROOT, execute=False)
    assert off["execute"]["execute_notebooks"] == "off" and off["title"].endswith("(student edition)")
    on = edition.student_config(config, ROOT, execute=True)
    assert on["execute"]["execute_notebooks"] == "cache"
    assert Path(on["execute"]["cache"]).parent == ROOT / JUPYTER_CACHE
    excluded = on["execute"]["exclude_patterns"]
    assert "labs/01_gan_lab.ipynb" in excluded and "lectures/04_gans.ipynb" in excluded
    assert "lectures/00_getting_started.ipynb" not in excluded, "a notebook without exercises is executed"
    assert config["execute"]["execute_notebooks"] == "cache", "the input must not be modified"


def _tiny_course(book: Path) -> None:
    """A book with one lab (a solution source and its generated student copy) and an instructors page."""
    (book / "labs" / "solutions").mkdir(parents=True)
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, book / name)
    shutil.copytree(ROOT / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "intro.md").write_text("# Tiny course\n\nA test book.\n")
    (book / "instructors.md").write_text("# For instructors\n\nRebuild it.\n")
    (book / "labs" / "about.md").write_text("# How the labs work\n\nOpen the student copy.\n")
    toc = {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "Labs", "chapters": [{"file": "labs/about"}, {"file": "labs/solutions/01_probe"}]},
            {"caption": "For instructors", "chapters": [{"file": "instructors"}]},
        ],
    }
    (book / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Lab 1: probe\n\n## Exercise 1: the answer\n\nCompute it."},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": f"def answer():\n    ### BEGIN SOLUTION\n    {SECRET}\n    return SECRET_ANSWER\n    ### END SOLUTION\n",
        },
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": "print('executed:', 6 * 7)"},
    ]
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (book / "labs" / "solutions" / "01_probe.ipynb").write_text(json.dumps(nb))
    assert assignments.main(["--root", str(book)]) == 0


def test_student_edition_builds_with_stubs_and_without_solutions(tmp_path):
    book = tmp_path / "book"
    _tiny_course(book)
    done = edition.build_student_edition(root=book, out=tmp_path / "student", strict=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    html = tmp_path / "student" / "_build" / "html"
    lab = html / "labs" / "01_probe.html"
    assert lab.is_file(), "the student copy was not built"
    assert not (html / "labs" / "solutions").exists(), "a solution page was built"
    assert not (html / "instructors.html").exists(), "the instructors' page is in the student edition"
    page = lab.read_text(encoding="utf-8")
    assert "NotImplementedError" in page and "Exercise 1: the answer" in page
    assert "executed: 42" not in page and 'class="cell_output' not in page, "the student edition must not execute notebooks"
    repo = book_config()["repository"]["url"].removeprefix("https://github.com/")
    assert f"https://colab.research.google.com/github/{repo}/blob/main/labs/01_probe.ipynb" in page
    assert "(student edition)" in page
    for built in html.rglob("*.html"):
        assert "SECRET_ANSWER" not in built.read_text(encoding="utf-8"), f"{built.name} shows a solution"


def test_this_books_student_edition_builds_with_warnings_as_errors(tmp_path):
    """The real student copies build strictly: every relative link in a copy resolves from the copy's own folder."""
    done = edition.build_student_edition(root=ROOT, out=tmp_path / "student", strict=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    html = tmp_path / "student" / "_build" / "html"
    assert (html / "lectures" / "05_vaes.html").is_file() and not (html / "lectures" / "solutions").exists()
