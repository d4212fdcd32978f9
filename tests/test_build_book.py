"""scripts/build_book.py: the execution cache never serves results made in another mode or with other helpers.

A tiny book whose one notebook logs every execution (and its mode) is built four times: fast, fast again
(nothing runs), full (runs again, and the page shows full-mode output), and full after a change to a file
of `utils/` that it imports (runs again). Each notebook's key covers the helper modules it imports: editing
one re-executes only the notebooks that import it, and editing scripts, tests or Markdown executes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import build_book  # scripts/build_book.py (tests/helpers.py puts scripts/ on the path)
import pytest
from helpers import ROOT

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Probe"},
        {
            "cell_type": "code",
            "id": "probe",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": (
                "from utils import config\n"
                "mode = 'fast' if config.fast_mode() else 'full'\n"
                "with open('runs.log', 'a') as log:\n    log.write(mode + '\\n')\n"
                "print('MODE-' + mode, getattr(config, 'EDITED', ''))"
            ),
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _tiny_book(book: Path) -> None:
    """A book with one notebook and a copy of utils/."""
    book.mkdir()
    shutil.copytree(ROOT / "utils", book / "utils", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    (book / "requirements.txt").write_text("torch\n")
    (book / "_config.yml").write_text(
        "title: Probe\nonly_build_toc_files: true\nexclude_patterns: [utils, _build]\n"
        "execute:\n  execute_notebooks: cache\n  run_in_temp: false\n"
    )
    (book / "_toc.yml").write_text("format: jb-book\nroot: probe\n")
    (book / "probe.ipynb").write_text(json.dumps(NOTEBOOK))


def _build(book: Path, fast: bool) -> str:
    """Build the tiny book; return the built page's text."""
    env = {**os.environ, "GENAI_FAST": "1" if fast else "0", "GENAI_DEVICE": "cpu"}
    env.pop("MPLBACKEND", None)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(book)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return (book / "_build" / "html" / "probe.html").read_text(encoding="utf-8")


def _runs(book: Path) -> list[str]:
    """The modes of the executions so far."""
    log = book / "runs.log"
    return log.read_text().split() if log.is_file() else []


@pytest.mark.book
def test_a_build_never_reuses_results_made_under_other_conditions(tmp_path):
    book = tmp_path / "book"
    _tiny_book(book)
    assert "MODE-fast" in _build(book, fast=True) and _runs(book) == ["fast"]
    assert "MODE-fast" in _build(book, fast=True) and _runs(book) == ["fast"], "an unchanged rebuild executed"
    page = _build(book, fast=False)
    assert _runs(book) == ["fast", "full"], "a full build after a fast one did not execute"
    assert "MODE-full" in page and "MODE-fast" not in page, "the full build shows fast-mode output"
    with open(book / "utils" / "config.py", "a") as f:
        f.write("\nEDITED = 'HELPERS-EDITED'  # an edit of the helpers\n")
    page = _build(book, fast=False)
    assert _runs(book) == ["fast", "full", "full"], "a change to utils/ did not execute again"
    assert "HELPERS-EDITED" in page, "the page of the notebook executed again still shows the old output"
    nb = json.loads((book / "probe.ipynb").read_text())
    nb["cells"][0]["source"] = "# Probe\n\nA sentence added in Markdown."
    (book / "probe.ipynb").write_text(json.dumps(nb))
    page = _build(book, fast=False)
    assert _runs(book) == ["fast", "full", "full"], "a Markdown edit executed the notebook"
    assert "A sentence added in Markdown." in page and "HELPERS-EDITED" in page, "the Markdown edit is not on the page"


def test_conditions_tell_modes_and_packages_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAI_DEVICE", "cpu")
    monkeypatch.setenv("GENAI_FAST", "1")
    fast = build_book.conditions(ROOT)
    monkeypatch.setenv("GENAI_FAST", "0")
    full = build_book.conditions(ROOT)
    assert fast["mode"] == "fast" and full["mode"] == "full" and fast["device"] == "cpu"
    assert build_book.cache_name(fast) != build_book.cache_name(full)
    assert build_book.cache_name(fast).startswith("fast-cpu-")
    assert build_book.cache_name({**full, "requirements": "other"}) != build_book.cache_name(full)
    assert build_book.cache_name({**full, "packages": "other"}) != build_book.cache_name(full)
    monkeypatch.setenv("GENAI_BF16", "1")
    bf16 = build_book.conditions(ROOT)
    monkeypatch.setenv("GENAI_BF16", "0")
    assert bf16["precision"] == "bfloat16" and build_book.conditions(ROOT)["precision"] == "float32"
    assert build_book.cache_name(bf16) != build_book.cache_name(build_book.conditions(ROOT))
    config = build_book.build_config(ROOT, tmp_path / "cache")
    assert config["execute"]["cache"] == str(tmp_path / "cache") and config["title"]


def _notebook(code: str) -> dict:
    """A one-cell notebook."""
    return {**NOTEBOOK, "cells": [NOTEBOOK["cells"][0], {**NOTEBOOK["cells"][1], "source": code}]}


MAKER = """from utils import artifacts, config
mode = 'fast' if config.fast_mode() else 'full'
with open('runs.log', 'a') as log:
    log.write('maker-' + mode + '\\n')
import time
time.sleep(2)
artifacts.save_json('toy', 'model.json', {'mode': mode, 'version': VERSION})"""

READER = """from utils import artifacts, config
mode = 'fast' if config.fast_mode() else 'full'
with open('runs.log', 'a') as log:
    log.write('reader-' + mode + '\\n')
try:
    record = artifacts.load_json('toy', 'model.json')
    print(f"READ-{mode}-from-{record['mode']}-v{record['version']}")
except artifacts.ArtifactMissingError:
    if not artifacts.stand_in_allowed():
        raise
    print('STAND-IN')"""


def _artifact_book(tmp_path: Path) -> Path:
    """A book whose maker saves an artifact that its reader reads, declared in _config.yml, with a copy of utils/."""
    book = tmp_path / "book"
    _tiny_book(book)
    (book / "probe.ipynb").unlink()
    (book / "_config.yml").write_text(
        (book / "_config.yml").read_text() + "artifacts:\n  maker: {makes: [toy]}\n  reader: {reads: [toy]}\n"
    )
    (book / "_toc.yml").write_text("format: jb-book\nroot: reader\nchapters:\n  - file: maker\n  - file: other\n")
    _write_maker(book, version=1)
    (book / "reader.ipynb").write_text(json.dumps(_notebook(READER)))
    (book / "other.ipynb").write_text(json.dumps(_notebook("print(1)")))
    return book


def _write_maker(book: Path, version: int) -> None:
    """The maker notebook, saving a record with this version number."""
    (book / "maker.ipynb").write_text(json.dumps(_notebook(f"VERSION = {version}\n" + MAKER)))


def _pre_execute(book: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> list[str]:
    """Execute what the book's cache for this mode lacks, as a build does first; return what ran, in order."""
    monkeypatch.setenv("GENAI_FAST", "1" if fast else "0")
    before = _runs(book)
    config = {"execute": {"execute_notebooks": "cache", "timeout": 120}}
    graph = build_book.artifact_graph(book, "fast" if fast else "full")
    assert build_book.pre_execute(book, config, book / "_build" / f"cache-{fast}", jobs=2, graph=graph) == []
    return _runs(book)[len(before) :]


def _read_by_reader(book: Path, fast: bool) -> str:
    """What the cached reader printed."""
    from jupyter_cache import get_cache

    cache = get_cache(str(book / "_build" / f"cache-{fast}"))
    record = next(r for r in cache.list_cache_records() if r.uri.endswith("reader.ipynb"))
    nb = cache.get_cache_bundle(record.pk).nb
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_readers_run_after_makers_and_again_when_the_artifacts_change(tmp_path, monkeypatch):
    book = _artifact_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    assert _pre_execute(book, monkeypatch, fast=True) == ["maker-fast", "reader-fast"], "the reader ran before its maker"
    assert "READ-fast-from-fast-v1" in _read_by_reader(book, fast=True)
    assert _pre_execute(book, monkeypatch, fast=True) == [], "an unchanged book executed again"
    _write_maker(book, version=2)  # the model is trained again: its reader must show the new one
    assert _pre_execute(book, monkeypatch, fast=True) == ["maker-fast", "reader-fast"]
    assert "READ-fast-from-fast-v2" in _read_by_reader(book, fast=True)
    (book / "artifacts" / "fast" / "toy" / "model.json").write_text('{"mode": "fast", "version": 3}')
    assert _pre_execute(book, monkeypatch, fast=True) == ["reader-fast"], "the reader's result outlived what it read"


def test_a_full_build_after_a_fast_one_never_reads_fast_artifacts(tmp_path, monkeypatch):
    book = _artifact_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    _pre_execute(book, monkeypatch, fast=True)
    assert _pre_execute(book, monkeypatch, fast=False) == ["maker-full", "reader-full"]
    assert "READ-full-from-full-v1" in _read_by_reader(book, fast=False)
    assert "READ-fast-from-fast-v1" in _read_by_reader(book, fast=True), "the full build overwrote the fast artifacts"


def test_a_restored_cache_without_artifacts_runs_the_maker_again_before_an_edited_reader(tmp_path, monkeypatch):
    """The publishing path: the execution cache comes back, artifacts/ does not, and only the reader changed."""
    book = _artifact_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    _pre_execute(book, monkeypatch, fast=False)
    shutil.rmtree(book / "artifacts")
    (book / "reader.ipynb").write_text(json.dumps(_notebook(READER + "\nprint('edited')")))
    assert _pre_execute(book, monkeypatch, fast=False) == ["maker-full", "reader-full"]
    page = _read_by_reader(book, fast=False)
    assert "READ-full-from-full-v1" in page and "STAND-IN" not in page


def test_a_reader_is_not_executed_after_its_maker_failed(tmp_path, monkeypatch, capsys):
    book = _artifact_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    (book / "maker.ipynb").write_text(json.dumps(_notebook("VERSION = 1\n" + MAKER + "\nraise ValueError('planted failure')")))
    config = {"execute": {"execute_notebooks": "cache", "timeout": 120}}
    graph = build_book.artifact_graph(book, "fast")
    with pytest.raises(build_book.MissingArtifacts, match="reader.ipynb is not executed: maker.ipynb, which makes what it reads, failed"):
        build_book.pre_execute(book, config, book / "_build" / "cache", jobs=2, graph=graph)
    assert "reader-fast" not in _runs(book), "the reader ran on the artifacts of a failed maker"
    assert "planted failure" in capsys.readouterr().out, "the maker's error is not shown"


@pytest.mark.book
def test_a_build_whose_reader_would_show_a_stand_in_fails_naming_the_artifact(tmp_path):
    book = _artifact_book(tmp_path)
    (book / "maker.ipynb").write_text(json.dumps(_notebook("print('forgot to save')")))
    env = {**os.environ, "GENAI_FAST": "0", "GENAI_DEVICE": "cpu", "GENAI_ARTIFACTS": str(book / "artifacts")}
    env.pop("MPLBACKEND", None)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_book.py"), str(book)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode != 0, "the build published a page that would show a stand-in"
    assert "reader.ipynb reads the artifact(s) toy (full mode)" in out.stderr and "maker.ipynb did not save it" in out.stderr
    assert not (book / "_build" / "html" / "reader.html").exists()


def test_the_artifact_graph_is_declared_once_and_matches_the_helpers(monkeypatch, tmp_path):
    from utils import artifacts

    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path))
    monkeypatch.setenv("GENAI_FAST", "0")
    graph = build_book.artifact_graph(ROOT)
    assert graph.folder == artifacts.mode_root(), "the build looks for artifacts where the notebooks do not put them"
    lab = ROOT / "labs" / "solutions"
    assert graph.makers_of(["gan"]) == {lab / "01_gan_lab.ipynb"} and graph.makers_of(["vae"]) == {lab / "02_vae_lab.ipynb"}
    assert graph.reads == {lab / "03_gan_vs_vae.ipynb": ["gan", "vae"]}
    assert "artifacts" not in build_book.build_config(ROOT, tmp_path / "cache"), "Jupyter Book would see a key it does not know"
    assert graph.digest(lab / "03_gan_vs_vae.ipynb") == "missing"
    (tmp_path / "full" / "gan").mkdir(parents=True)
    (tmp_path / "full" / "vae").mkdir(parents=True)
    (tmp_path / "full" / "gan" / "model.json").write_text("{}")
    (tmp_path / "full" / "vae" / "model.json").write_text("{}")
    first = graph.digest(lab / "03_gan_vs_vae.ipynb")
    (tmp_path / "full" / "gan" / "model.json").write_text('{"retrained": true}')
    assert first not in (None, "missing") and graph.digest(lab / "03_gan_vs_vae.ipynb") != first


def test_help_prints_the_usage_and_builds_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """`--help` explains the script and jupyter-book's options instead of starting a whole-book build."""
    before = set((ROOT / "_build").glob("*")) if (ROOT / "_build").exists() else set()
    assert build_book.main(["--help"]) == 0
    out = capfd.readouterr().out
    assert "Usage: python scripts/build_book.py" in out and "--keep-going" in out
    after = set((ROOT / "_build").glob("*")) if (ROOT / "_build").exists() else set()
    assert after == before


def test_start_order_puts_savers_first_then_the_slowest_last_time(tmp_path: Path) -> None:
    """The notebooks that head the chain start first; among the others, last run's slowest, then the biggest."""
    from types import SimpleNamespace

    paths = {name: tmp_path / f"{name}.ipynb" for name in ("small", "big", "slow", "saver")}
    for name, path in paths.items():
        path.write_text("x" * (1000 if name == "big" else 10))
    records = [SimpleNamespace(uri=str(paths["slow"]), data={"execution_seconds": 50.0}, created=1)]
    cache = SimpleNamespace(list_cache_records=lambda: records)
    order = build_book.start_order(list(paths.values()), {paths["saver"]}, cache)
    assert [p.stem for p in order] == ["saver", "slow", "big", "small"]


def test_the_test_run_starts_the_lab_model_makers_first_and_their_reader_soon_after():
    """nbval's run of lab 3 should find this run's models, so that the book build can reuse it."""
    from executed_once import SLOW_FIRST, queue_front

    front = queue_front()
    assert front[:2] == ["labs/solutions/01_gan_lab.ipynb", "labs/solutions/02_vae_lab.ipynb"]
    assert front[2:-1] == list(SLOW_FIRST) and front[-1] == "labs/solutions/03_gan_vs_vae.ipynb"


# Per-notebook keys: three notebooks of a tiny book import different modules of its (copied) helpers.
PROBES = {
    "utils/checks/probe_a.py": "VALUE = 'a'\n",
    "utils/checks/probe_b.py": "from . import probe_shared\n\nVALUE = 'b' + probe_shared.VALUE\n",
    "utils/checks/probe_shared.py": "VALUE = 'shared'\n",
    "utils/probe_data.py": "FOLDER = 'probe_weights'\n",
    "utils/probe_weights/model.bin": "weights v1",
}


def _logging(name: str, code: str) -> str:
    """A notebook cell that runs code and then logs the notebook's name."""
    return f"{code}\nwith open('runs.log', 'a') as log:\n    log.write({name!r} + '\\n')"


def _keyed_book(tmp_path: Path) -> Path:
    """A book whose notebooks a, b and plain import a check module, another one (through a third) and no helper."""
    book = tmp_path / "book"
    _tiny_book(book)
    (book / "probe.ipynb").unlink()
    for rel, text in PROBES.items():
        (book / rel).parent.mkdir(parents=True, exist_ok=True)
        (book / rel).write_text(text)
    (book / "_toc.yml").write_text("format: jb-book\nroot: plain\nchapters:\n  - file: a\n  - file: b\n  - file: data\n")
    notebooks = {
        "a": "from utils.checks import probe_a as checks\nprint(checks.VALUE)",
        "b": "from utils.checks import probe_b\nprint(probe_b.VALUE)",
        "data": "%load_ext autoreload\nimport utils.probe_data\nprint('data')",
        "plain": "print('plain')",
    }
    for name, code in notebooks.items():
        (book / f"{name}.ipynb").write_text(json.dumps(_notebook(_logging(name, code))))
    for rel in ("scripts/tool.py", "tests/test_tool.py"):  # a book's scripts and tests: no notebook imports them
        (book / rel).parent.mkdir(exist_ok=True)
        (book / rel).write_text("X = 1\n")
    return book


def _executed(book: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Execute what the book's cache lacks (fast mode); return the names of the notebooks that ran, sorted."""
    return sorted(_pre_execute(book, monkeypatch, fast=True))


def _edit(path: Path, line: str = "# an edit") -> None:
    """Append one line to a file."""
    with open(path, "a") as f:
        f.write(f"\n{line}\n")


def test_the_import_graph_of_a_notebook_holds_only_what_it_imports(tmp_path):
    book = _keyed_book(tmp_path)
    names = {nb: [p.relative_to(book).as_posix() for p in build_book.imported_files(book / f"{nb}.ipynb", book)] for nb in ("a", "b")}
    assert names["a"] == ["utils/__init__.py", "utils/checks/__init__.py", "utils/checks/probe_a.py"]
    assert names["b"] == ["utils/__init__.py", "utils/checks/__init__.py", "utils/checks/probe_b.py", "utils/checks/probe_shared.py"]
    assert build_book.imported_files(book / "plain.ipynb", book) == []
    data = [p.relative_to(book).as_posix() for p in build_book.imported_files(book / "data.ipynb", book)]
    assert "utils/probe_weights/model.bin" in data, "the data a module reads is not part of its notebook's key"


def test_this_books_lab_notebook_imports_one_check_module():
    """The checks package imports no check module itself, so a notebook depends on its own checks only."""
    files = build_book.imported_files(ROOT / "labs" / "solutions" / "01_gan_lab.ipynb")
    checks = sorted(p.name for p in files if p.parent == ROOT / "utils" / "checks")
    assert checks == ["__init__.py", "core.py", "gan_lab.py"], checks
    vs = build_book.imported_files(ROOT / "labs" / "solutions" / "03_gan_vs_vae.ipynb")
    assert ROOT / "lab_code" / "gan_lab.py" in vs, "lab 3's key misses the lab code it imports"


def test_editing_a_module_executes_again_only_the_notebooks_that_import_it(tmp_path, monkeypatch):
    book = _keyed_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    assert _executed(book, monkeypatch) == ["a", "b", "data", "plain"]
    assert _executed(book, monkeypatch) == [], "an unchanged book executed again"
    _edit(book / "utils" / "checks" / "probe_a.py")
    assert _executed(book, monkeypatch) == ["a"], "editing one check module executed notebooks that do not import it"
    _edit(book / "utils" / "checks" / "probe_shared.py")
    assert _executed(book, monkeypatch) == ["b"], "a module imported through another one is not in the key"
    (book / "utils" / "probe_weights" / "model.bin").write_text("weights v2")
    assert _executed(book, monkeypatch) == ["data"], "new data of a module did not execute its notebook again"
    for rel in ("scripts/tool.py", "tests/test_tool.py"):
        _edit(book / rel)
    assert _executed(book, monkeypatch) == [], "editing scripts or tests executed notebooks"
    nb = json.loads((book / "a.ipynb").read_text())
    nb["cells"][0]["source"] = "# Probe, retitled\n\nNew prose."
    (book / "a.ipynb").write_text(json.dumps(nb))
    assert _executed(book, monkeypatch) == [], "a Markdown edit executed its notebook"
    _edit(book / "utils" / "config.py")
    assert _executed(book, monkeypatch) == [], "a module that no notebook imports executed notebooks"
    _edit(book / "utils" / "__init__.py")
    assert _executed(book, monkeypatch) == ["a", "b", "data"], "the package every import of utils runs is not in the key"


def test_an_outdated_result_is_removed_even_when_executing_it_again_fails(tmp_path, monkeypatch):
    book = _keyed_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    monkeypatch.setenv("GENAI_FAST", "1")
    _executed(book, monkeypatch)
    (book / "utils" / "checks" / "probe_a.py").write_text("raise ValueError('planted failure')\n")
    config = {"execute": {"execute_notebooks": "cache", "timeout": 120}}
    cache_path = book / "_build" / "cache-True"
    failures = build_book.pre_execute(book, config, cache_path, jobs=2, graph=build_book.artifact_graph(book, "fast"))
    assert failures == ["a.ipynb"]
    assert build_book.cached_pages(book, config, cache_path)["a"] is None, "the page would show the result made with the old module"


def test_a_notebook_whose_code_does_not_parse_depends_on_every_module(tmp_path):
    book = _keyed_book(tmp_path)
    (book / "plain.ipynb").write_text(json.dumps(_notebook("print(")))
    assert build_book.imported_files(book / "plain.ipynb", book) is None
    before = build_book.module_digest(book / "plain.ipynb", book)
    _edit(book / "utils" / "checks" / "probe_a.py")
    assert build_book.module_digest(book / "plain.ipynb", book) != before


def test_the_interfaces_that_are_not_public_are_those_the_plugin_and_the_build_expect():
    """nbval has no public way to read a run's outputs (requirements.txt pins it): an upgrade that moves them fails here."""
    from executed_once import changed_internals

    problems = changed_internals()
    assert not problems, "\n".join(problems)


def test_the_test_files_start_in_the_order_the_plugin_gives():
    """Under --dist loadfile: the files of queue_front() first, in order, then the others, most tests first."""
    from executed_once import file_order

    counts = {"tests/test_small.py": 2, "labs/solutions/03_gan_vs_vae.ipynb": 40, "tests/test_big.py": 9, "tests/test_build_book.py": 5}
    front = ["labs/solutions/01_gan_lab.ipynb", "tests/test_build_book.py", "labs/solutions/03_gan_vs_vae.ipynb"]
    assert file_order(counts, front) == [
        "tests/test_build_book.py",
        "labs/solutions/03_gan_vs_vae.ipynb",
        "tests/test_big.py",
        "tests/test_small.py",
    ]


@pytest.mark.book
def test_the_rebuild_benchmark_times_a_markdown_edit_and_a_module_edit_and_restores_the_files(tmp_path, monkeypatch, capsys):
    """benchmarks/rebuild_times.py on a tiny book: what each rebuild executed, and the edited files as they were."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import rebuild_times

    book = _keyed_book(tmp_path)
    monkeypatch.setenv("GENAI_ARTIFACTS", str(book / "artifacts"))
    monkeypatch.setenv("GENAI_DEVICE", "cpu")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    before = {p: p.read_bytes() for p in (book / "a.ipynb", book / "utils" / "checks" / "probe_a.py")}
    args = ["--book", str(book), "--mode", "fast", "--lecture", "a", "--module", "utils/checks/probe_a.py"]
    assert rebuild_times.main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| nothing \| \d+ \| none \|", out), out
    assert re.search(r"\| one sentence of Markdown in `a.ipynb` \| \d+ \| none \|", out), out
    assert re.search(r"\| one line of `utils/checks/probe_a.py` \| \d+ \| `a.ipynb` \|", out), out
    assert all(p.read_bytes() == text for p, text in before.items()), "an edited file was not restored"
    assert rebuild_times.SENTENCE not in (book / "_build" / "html" / "a.html").read_text(encoding="utf-8")
