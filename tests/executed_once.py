"""A pytest plugin: each notebook is executed once per test run, by nbval, and the strict book build reuses it.

nbval re-executes every notebook cell by cell. When a notebook has run without an error, this plugin puts
the cells' outputs back into it and stores it in the execution cache that `scripts/build_book.py` reads for
the test book under the current conditions (mode, device, `utils/`, packages). The book build of the same
run then finds every such notebook in its cache and executes only what nbval did not run (or what failed
there, which the build then reports again).

Under pytest-xdist the build may start while another worker is still in a notebook: `wait_for_notebooks`
lets it wait for the notebooks that have started and not finished (never for ones not yet started, so a
worker cannot wait for work queued behind itself).

nbval offers no public way to read the outputs of the cells it ran: this plugin reads its items' `cell`,
`cell_num` and `test_outputs` and its file's `nb`, so requirements.txt pins nbval's exact version and
tests/test_build_book.py names the one that changed when an upgrade moves them.
"""

from __future__ import annotations

import functools
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, TEST_BOOK


def _state_dir() -> Path:
    """Markers of this run's notebooks: which have started, which have finished."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    return TEST_BOOK / "nbval" / run


def _marker(path: Path) -> str:
    """A file name for a notebook path."""
    return path.resolve().relative_to(ROOT).as_posix().replace("/", "__")


def _is_nbval_cell(item: pytest.Item) -> bool:
    """True for the items nbval makes of notebook cells."""
    from nbval.plugin import IPyNbCell

    return isinstance(item, IPyNbCell)


def changed_internals() -> list[str]:
    """One line for each interface this plugin and scripts/build_book.py use that is not public and has changed."""
    import inspect

    problems = []
    try:
        from nbval.plugin import IPyNbCell, IPyNbFile
    except ImportError:
        return ["nbval.plugin no longer defines IPyNbCell and IPyNbFile, whose runs tests/executed_once.py caches"]
    params = inspect.signature(IPyNbCell.__init__).parameters
    problems += [
        f"nbval's IPyNbCell no longer takes `{name}`, which tests/executed_once.py reads"
        for name in ("cell_num", "cell")
        if name not in params
    ]
    if "self.test_outputs = " not in inspect.getsource(IPyNbCell.runtest):
        problems.append(
            "nbval's IPyNbCell.runtest no longer keeps the cell's outputs in `test_outputs`, which tests/executed_once.py caches"
        )
    if "self.nb = " not in inspect.getsource(IPyNbFile.collect):
        problems.append("nbval's IPyNbFile.collect no longer keeps the notebook in `nb`, which tests/executed_once.py caches")
    import xdist.plugin

    if 'dest="loadscopereorder"' not in inspect.getsource(xdist.plugin):
        problems.append("pytest-xdist's --no-loadscope-reorder no longer sets `loadscopereorder`, which tests/executed_once.py sets")
    from jupyter_cache.cache.main import JupyterCacheBase

    for method in ("match_cache_notebook", "cache_notebook_bundle", "remove_cache", "list_cache_records", "get_cache_bundle"):
        if not callable(getattr(JupyterCacheBase, method, None)):
            problems.append(f"jupyter-cache's cache has no `{method}` any more, which scripts/build_book.py calls")
    return problems


@contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on path (POSIX), so two workers never write the cache at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build_book() -> Any:
    """scripts/build_book.py as a module (tests/helpers.py puts scripts/ on the import path)."""
    import build_book

    return build_book


@functools.cache
def _conditions() -> dict[str, str]:
    """The conditions of this run (fixed during a run)."""
    return _build_book().conditions(ROOT)


@functools.cache
def cache_folder() -> Path:
    """The execution cache the test book's build reads under the current conditions (fixed during a run)."""
    return _build_book().jupyter_cache_folder(TEST_BOOK, _build_book().cache_name(_conditions()))


@functools.cache
def artifact_graph() -> Any:
    """Which notebooks make and read the lab models, in this run's artifacts folder (as the build sees them)."""
    return _build_book().artifact_graph(ROOT, _conditions()["mode"])


def _store(nb: Any, path: Path, seconds: float, reads: str | None) -> None:
    """Put an executed notebook into the build's cache, with the digest of the artifacts it read at its start."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    folder = cache_folder()
    data = _build_book().record_data(ROOT, path.resolve(), seconds, reads, executed_by="nbval")
    with _locked(TEST_BOOK / "nbval" / "cache.lock"):
        bundle = CacheBundleIn(nb, str(path.resolve()), data=data)
        get_cache(str(folder)).cache_notebook_bundle(bundle, check_validity=False, overwrite=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Mark a notebook as started when nbval begins its first cell."""
    if _is_nbval_cell(item) and item.cell_num == 0:
        started = _state_dir() / "started"
        started.mkdir(parents=True, exist_ok=True)
        (started / _marker(item.path)).write_text(json.dumps({"time": time.time()}))
        reads = artifact_graph().digest(item.path.resolve())  # what a reader will load, as it starts
        item.parent._executed_once = {"start": time.time(), "failed": False, "reads": reads}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each executed cell's outputs in the notebook nbval read; remember a failure."""
    outcome = yield
    state = getattr(item.parent, "_executed_once", None) if _is_nbval_cell(item) else None
    if state is None:
        return
    report = outcome.get_result()
    if report.failed or report.skipped:
        state["failed"] = True  # a notebook that did not run through is left to the build
    if call.when != "call" or state["failed"]:
        return
    if item.test_outputs is None:
        state["failed"] = True
        return
    item.cell.outputs = item.test_outputs
    item.cell.execution_count = item.cell_num + 1


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a notebook's last cell: cache it when every cell ran, and mark it finished either way."""
    if not _is_nbval_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    state = getattr(item.parent, "_executed_once", None)
    if state is None:
        return
    cached = False
    try:
        if not state["failed"]:
            _store(item.parent.nb, item.path, time.time() - state["start"], state["reads"])
            cached = True
    finally:
        finished = _state_dir() / "finished"
        finished.mkdir(parents=True, exist_ok=True)
        rel = item.path.resolve().relative_to(ROOT).as_posix()
        (finished / _marker(item.path)).write_text(json.dumps({"notebook": rel, "cached": cached}))


def cached_by_nbval() -> list[str]:
    """The notebooks (relative paths) that nbval has executed without error and cached in this run so far."""
    found = []
    for marker in sorted((_state_dir() / "finished").glob("*")):
        record = json.loads(marker.read_text())
        if record["cached"]:
            found.append(record["notebook"])
    return found


def wait_for_notebooks(timeout: float = 1800.0) -> list[str]:
    """Wait until no notebook of this run is half-way through nbval; return the names still running at timeout."""
    state = _state_dir()
    deadline = time.time() + timeout
    while True:
        started = {p.name for p in (state / "started").glob("*")}
        finished = {p.name for p in (state / "finished").glob("*")}
        running = sorted(started - finished)
        if not running or time.time() > deadline:
            return running
        time.sleep(1.0)


# Files that take long and need no notebook: started among the first, not left to the end by pytest-xdist's
# ordering (largest number of tests first), where they would keep one worker busy while the other idles.
# The notebooks that make lab models go first, and those that read them right after SLOW_FIRST, so that
# nbval's run of a reader usually finds the models of this run, and the book build can reuse it.
SLOW_FIRST = ("tests/test_build_book.py", "tests/test_journey.py")


def queue_front() -> list[str]:
    """The test files to start first, in order: makers of lab models, SLOW_FIRST, readers of lab models."""
    graph = artifact_graph()
    makers, readers = ([p.relative_to(ROOT).as_posix() for p in sorted(group)] for group in (graph.makes, graph.reads))
    return [*makers, *SLOW_FIRST, *readers]


def file_order(counts: dict[str, int], front: list[str]) -> list[str]:
    """The order to start test files in: those of `front` first, in its order; then the others, most tests first."""
    first = [f for f in front if f in counts]
    rest = sorted((f for f in counts if f not in first), key=lambda f: -counts[f])  # stable: ties keep collection order
    return first + rest


ORDER_KEY = "genai_file_order"  # sent to each pytest-xdist worker: collect the files in file_order()


def _loadfile(config: pytest.Config) -> bool:
    """Whether pytest-xdist hands out whole files (`--dist loadfile`): asked on the controller."""
    return config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") == "loadfile"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under `--dist loadfile`, let pytest-xdist hand out the files in collection order (its public option)."""
    if _loadfile(config):
        config.option.loadscopereorder = False  # what --no-loadscope-reorder sets: the order comes from collection


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each worker (through pytest-xdist's workerinput) whether to collect the files in file_order()."""
    node.workerinput[ORDER_KEY] = _loadfile(node.config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker of `--dist loadfile`, collect the files of queue_front() first, then the others by number of tests."""
    if not getattr(config, "workerinput", {}).get(ORDER_KEY):
        return
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    order = file_order({f: len(its) for f, its in by_file.items()}, queue_front())
    items[:] = [item for f in order for item in by_file[f]]
