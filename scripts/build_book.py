"""Build the book with an execution cache that never serves results made under other conditions.

Usage: python scripts/build_book.py [--jobs N] [BOOK] [jupyter-book build options, e.g. -W -n --keep-going]

The site lands in `_build/html/` (with `--path-output DIR`, in `DIR/_build/html/`, its caches beside it).

`jupyter-book build` keys its execution cache by a notebook's code alone, so a full build would reuse
fast-mode results and a change to `utils/` would never be executed. Here each notebook's cached result is
keyed by everything it uses:

- the mode and the device, `requirements.txt` and the installed packages: one cache folder for each set,
  `_build/.jupyter_cache/<mode>-<device>-<digest>` (going back to earlier conditions finds their cache again,
  and Sphinx reads every page again when they differ from the last build's);
- its code cells (jupyter-cache's own hash: a Markdown edit re-renders the page without executing it);
- the book's modules it imports, directly or through each other (`utils/`, `lab_code/`, found statically
  by walking the import statements of its cells and of those modules), with the data files they name
  (the metrics classifier's weights): editing `utils/checks/gan_lab.py` executes only lab 1 again, and
  editing `scripts/` or `tests/` executes nothing;
- the artifacts it reads (declared under `artifacts:` in `_config.yml`).

The last two are stored with the cached result (`modules`, `reads`); a result whose digests differ from
the current ones is removed from the cache and executed again, and its page is read again by Sphinx
(scripts/sphinx_reread.py), even though its file did not change.

Before Sphinx runs, the notebooks missing from that cache are executed N at a time (default: one per
core, each kernel with OMP_NUM_THREADS = cores / N unless set), filling the very cache the build reads.
A reader of artifacts waits until every maker of what it reads is done (so the makers start first, then the
notebooks that took longest last time); a maker whose artifacts are missing runs again before its readers;
and a reader whose artifacts are still missing stops the build with a message naming them. Kernels run with
GENAI_REQUIRE_ARTIFACTS=1, so a page never shows a stand-in model.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from book_files import jupyter_cache_folder, toc_files

ROOT = Path(__file__).resolve().parent.parent
STATE = Path("_build") / ".build"
REREAD_EXTENSION = "sphinx_reread"  # scripts/sphinx_reread.py: Sphinx reads again the pages whose executed results changed


def _digest_files(paths: list[Path], *bases: Path) -> str:
    """A hash over the names and contents of files, each name relative to the first of bases that holds it."""
    h = hashlib.sha256()
    for p in sorted(paths):
        rel = next(p.relative_to(base) for base in bases if p.is_relative_to(base))
        h.update(rel.as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _helpers_root(root: Path) -> Path:
    """The folder whose `utils/` the book's notebooks import: the book's own, else this repository's."""
    return root if (root / "utils" / "config.py").is_file() else ROOT


def conditions(root: Path = ROOT) -> dict[str, str]:
    """What every executed notebook's results depend on besides its own code and imports: mode, device, precision, packages."""
    helpers = _helpers_root(root)
    sys.path.insert(0, str(helpers))
    try:
        from utils import config  # the book's own helpers decide the mode and the device
    finally:
        sys.path.pop(0)
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"])
    requirements = root / "requirements.txt"
    return {
        "mode": "fast" if config.fast_mode() else "full",
        "device": config.get_device().type,
        "precision": "bfloat16" if config.bf16_pays() else "float32",  # lab 1 trains in config.autocast()
        "requirements": hashlib.sha256(requirements.read_bytes() if requirements.is_file() else b"").hexdigest(),
        "packages": hashlib.sha256("\n".join(packages).encode()).hexdigest(),
    }


def _code(text: str) -> ast.Module | None:
    """A cell's (or a module's) code as a syntax tree, IPython's magics and shell lines blanked; None if it does not parse."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _imported_names(tree: ast.Module, package: str | None) -> set[str]:
    """Every dotted module name a syntax tree may import (a `from a import b` gives a, and a.b in case b is a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):  # imports inside functions count too: they run when the function does
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                parts = (package or "").split(".")
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([p for p in parts if p] + ([base] if base else []))
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {prefix for name in names for prefix in _prefixes(name)}


def _prefixes(name: str) -> list[str]:
    """a.b.c -> a, a.b, a.b.c: importing a submodule runs its packages' __init__ first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _module_file(name: str, search: list[Path]) -> Path | None:
    """The file of a module of the book (a.b -> a/b.py or a/b/__init__.py) in the first folder that has it."""
    rel = Path(*name.split("."))
    for folder in search:
        for path in (folder / rel.with_suffix(".py"), folder / rel / "__init__.py"):
            if path.is_file():
                return path
    return None


def _data_files(module: Path, tree: ast.Module) -> list[Path]:
    """Data a module reads from its package: the files under each subfolder of its package that it names in a string."""
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    subfolders = [d for d in module.parent.iterdir() if d.is_dir() and d.name != "__pycache__"]
    folders = [d for d in subfolders if d.name in strings and not (d / "__init__.py").is_file()]  # data, not subpackages
    return [p for d in folders for p in d.rglob("*") if p.is_file()]


def imported_files(notebook: Path, root: Path = ROOT) -> list[Path] | None:
    """The book's own modules (utils/, lab_code/, ...) a notebook imports, directly or through them, and the data they read.

    Found statically from the import statements of its code cells and of every module reached (a module-graph
    walk). None when a code cell cannot be parsed: then the notebook counts as importing all of them.
    """
    import nbformat

    helpers = _helpers_root(root)
    search = [helpers, notebook.parent]
    nb = nbformat.read(notebook, as_version=4)
    todo: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            tree = _code(cell.source)
            if tree is None:
                return None
            todo |= _imported_names(tree, None)
    seen: set[str] = set()
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        seen.add(name)
        path = _module_file(name, search)
        if path is None:
            continue  # an installed package or a name inside a module: the packages are in the conditions
        files.add(path)
        tree = _code(path.read_text(encoding="utf-8"))
        if tree is None:
            continue  # a module that does not parse fails when imported; its own digest still counts
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        files.update(_data_files(path, tree))
        todo |= _imported_names(tree, package) - seen
    return sorted(files)


def _all_module_files(root: Path) -> list[Path]:
    """Every file of the book's own packages: what a notebook whose code does not parse is taken to depend on."""
    helpers = _helpers_root(root)
    folders = [d for d in helpers.iterdir() if d.is_dir() and (d / "__init__.py").is_file()]
    return sorted(p for d in folders for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def module_digest(notebook: Path, root: Path = ROOT) -> str:
    """A hash of the book's modules a notebook imports (transitively) and the data they read: part of its cache key."""
    files = imported_files(notebook, root)
    files = _all_module_files(root) if files is None else files
    return _digest_files(files, _helpers_root(root), notebook.parent)


def cache_name(cond: dict[str, str]) -> str:
    """The cache folder's name for a set of conditions: readable mode and device, then a short digest."""
    digest = hashlib.sha256(json.dumps(cond, sort_keys=True).encode()).hexdigest()[:16]
    return f"{cond['mode']}-{cond['device']}-{digest}"


def build_config(root: Path, cache: Path) -> dict[str, Any]:
    """The book's _config.yml for jupyter-book: the execution cache pointed at cache, the book's own keys removed."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    config.pop("artifacts", None)  # this script's declaration, not a Jupyter Book setting
    config.setdefault("execute", {})["cache"] = str(cache)
    return with_absolute_paths(config, root)


class ArtifactGraph:
    """Which notebooks make and read which artifacts (the `artifacts:` section of _config.yml), and where they are."""

    def __init__(self, root: Path, folder: Path):
        declared = (yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}).get("artifacts") or {}
        self.folder = folder  # this mode's artifacts folder
        self.makes = {root / f"{nb}.ipynb": list(v.get("makes", [])) for nb, v in declared.items() if v.get("makes")}
        self.reads = {root / f"{nb}.ipynb": list(v.get("reads", [])) for nb, v in declared.items() if v.get("reads")}
        for reader, names in self.reads.items():
            for name in names:
                if not self.makers_of([name]):
                    raise SystemExit(f"_config.yml: {reader.relative_to(root)} reads artifact '{name}', which no notebook makes.")

    def makers_of(self, names: list[str]) -> set[Path]:
        """The notebooks that make any of the named artifacts."""
        return {nb for nb, made in self.makes.items() if set(made) & set(names)}

    def missing(self, names: list[str]) -> list[str]:
        """The named artifacts with no files in this mode's folder."""
        return [n for n in names if not any(p.is_file() for p in (self.folder / n).rglob("*"))]

    def digest(self, notebook: Path) -> str | None:
        """A hash of every file of the artifacts a notebook reads; None when it reads none, 'missing' when one is absent."""
        names = self.reads.get(notebook)
        if not names:
            return None
        if self.missing(names):
            return "missing"
        files = [p for n in names for p in (self.folder / n).rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
        return _digest_files(files, self.folder)


def artifact_graph(root: Path = ROOT, mode: str | None = None) -> ArtifactGraph:
    """The book's artifact graph, in the folder the kernels use: GENAI_ARTIFACTS or artifacts/, then the mode."""
    helpers = root if (root / "utils" / "config.py").is_file() else ROOT
    base = os.environ.get("GENAI_ARTIFACTS")
    folder = Path(base).expanduser().resolve() if base else helpers / "artifacts"
    return ArtifactGraph(root, folder / (mode or conditions(root)["mode"]))


def with_absolute_paths(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """Make the config's local extension paths absolute, so a copy of it works from any folder (in place)."""
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in local.items():
        local[name] = str((root / path).resolve())
    return config


def toc_notebooks(root: Path, config: dict[str, Any]) -> list[Path]:
    """The notebooks of the table of contents that the build executes (not in execute.exclude_patterns)."""
    excluded = config.get("execute", {}).get("exclude_patterns", [])
    paths = [root / f"{f}.ipynb" for f in toc_files(root)]
    return [p for p in paths if p.is_file() and not any(fnmatch(p.relative_to(root).as_posix(), pat) for pat in excluded)]


def _execute(path: str, timeout: int | None, threads: int) -> tuple[str, float, str | None]:
    """Execute one notebook in its own folder (in a worker process); return it as JSON, the seconds and any error."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # the kernel inherits it
    os.environ["GENAI_REQUIRE_ARTIFACTS"] = "1"  # a page never shows a stand-in model
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(Path(path).parent)}}
    client = NotebookClient(nb, timeout=timeout, allow_errors=False, record_timing=False, resources=resources)  # cell metadata is hashed
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as err:  # noqa: BLE001 (a cell's error, or a kernel that did not start: a failure of this notebook, reported)
        return nbformat.writes(nb), time.perf_counter() - start, f"{type(err).__name__}: {err}"
    return nbformat.writes(nb), time.perf_counter() - start, None


def record_data(root: Path, path: Path, seconds: float, reads: str | None, **extra: Any) -> dict[str, Any]:
    """What a cached execution records besides its code: the digests of the modules it imported and the artifacts it read.

    With the cache folder (mode, device, packages) and jupyter-cache's hash of the code cells, these make a
    notebook's cache key: a result is reused only while all of them are unchanged.
    """
    return {"execution_seconds": seconds, "modules": module_digest(path, root), "reads": reads, **extra}


def is_current(root: Path, path: Path, record: Any, graph: ArtifactGraph) -> bool:
    """Whether a cached result of a notebook was made with the modules it imports now and the artifacts there now."""
    data = record.data or {}
    if data.get("modules") != module_digest(path, root):
        return False
    return path not in graph.reads or data.get("reads") == graph.digest(path)


def start_order(paths: list[Path], savers: set[Path], cache: Any) -> list[Path]:
    """Savers of artifacts first (they head the longest chain), then the slowest last time, then the biggest."""
    seconds: dict[str, float] = {}
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created):
        seconds[record.uri] = float((record.data or {}).get("execution_seconds", 0.0))
    return sorted(paths, key=lambda p: (p not in savers, -seconds.get(str(p), 0.0), -p.stat().st_size))


class MissingArtifacts(Exception):
    """A notebook to execute reads artifacts that no finished notebook made."""


def _to_execute(root: Path, config: dict[str, Any], cache: Any, graph: ArtifactGraph) -> list[Path]:
    """The notebooks the cache lacks, the readers whose artifacts changed, and the makers of missing artifacts."""
    import nbformat

    paths = toc_notebooks(root, config)
    todo = set()
    for path in paths:
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.add(path)
            continue
        if not is_current(root, path, record, graph):
            todo.add(path)  # its cached result imported other helpers, or read other artifacts, than those there now
    changed = True
    while changed:
        before = len(todo)
        for reader in [p for p in todo if p in graph.reads]:
            todo |= {m for m in graph.makers_of(graph.missing(graph.reads[reader])) if m in paths}
        for maker in [p for p in todo if p in graph.makes]:
            todo |= {r for r, names in graph.reads.items() if r in paths and graph.makers_of(names) & {maker}}
        changed = len(todo) != before
    return [p for p in paths if p in todo]


def pre_execute(root: Path, config: dict[str, Any], cache_path: Path, jobs: int, graph: ArtifactGraph | None = None) -> list[str]:
    """Execute in parallel the notebooks to execute, filling the cache the build reads; return the failures.

    A notebook that reads artifacts starts only after every notebook that makes them has finished; if they are
    still missing then, MissingArtifacts is raised with a message naming them.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    graph = graph or artifact_graph(root)
    todo = _to_execute(root, config, cache, graph)
    if not todo:
        return []
    for path in todo:  # an outdated result must never reach a page, even when executing it again fails
        try:
            cache.remove_cache(cache.match_cache_notebook(nbformat.read(path, as_version=4)).pk)
        except KeyError:
            pass
    makers = {p for p in todo if p in graph.makes}
    waiting = [p for p in todo if p in graph.reads]
    ready = start_order([p for p in todo if p not in waiting], makers, cache)
    jobs = max(1, min(jobs, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    timeout = config.get("execute", {}).get("timeout")
    print(f"executing {len(todo)} notebook(s), {jobs} at a time")
    failures: list[str] = []
    running: dict[Future, tuple[Path, str | None]] = {}
    with ProcessPoolExecutor(jobs) as pool:
        while ready or waiting or running:
            busy = {*ready} | {p for p, _ in running.values()}
            for reader in [r for r in waiting if not graph.makers_of(graph.reads[r]) & busy]:
                waiting.remove(reader)
                failed = sorted(
                    m.relative_to(root).as_posix()
                    for m in graph.makers_of(graph.reads[reader])
                    if m.relative_to(root).as_posix() in failures
                )
                if failed:
                    raise MissingArtifacts(
                        f"{reader.relative_to(root).as_posix()} is not executed: {', '.join(failed)}, which makes what it "
                        "reads, failed (its error is above)."
                    )
                missing = graph.missing(graph.reads[reader])
                if missing:
                    rel = reader.relative_to(root).as_posix()
                    makers_named = sorted(m.relative_to(root).as_posix() for m in graph.makers_of(missing))
                    how = [f"{m} did not save it" for m in makers_named]  # a failed maker stopped the build above
                    raise MissingArtifacts(
                        f"{rel} reads the artifact(s) {', '.join(missing)} ({graph.folder.name} mode), missing from "
                        f"{graph.folder} ({'; '.join(how)}): the page would show a stand-in model. Fix that "
                        "notebook, then build again."
                    )
                ready.insert(0, reader)
            while ready and len(running) < jobs:
                path = ready.pop(0)
                running[pool.submit(_execute, str(path), timeout, threads)] = (path, graph.digest(path))
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                path, digest = running.pop(future)
                rel = path.relative_to(root).as_posix()
                nb_json, seconds, error = future.result()
                if error:
                    failures.append(rel)  # the build executes it again and reports the error
                    print(f"  failed   {rel} ({seconds:.0f} s): {error.strip().splitlines()[-1][:300]}")
                    continue
                data = record_data(root, path, seconds, digest)
                bundle = CacheBundleIn(nbformat.reads(nb_json, as_version=4), str(path), data=data)
                cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
                print(f"  executed {rel} ({seconds:.0f} s)")
    return failures


def jupyter_book() -> str:
    """The jupyter-book command next to this Python, or on PATH."""
    exe = Path(sys.executable).with_name("jupyter-book")
    found = str(exe) if exe.exists() else shutil.which("jupyter-book")
    if not found:
        raise SystemExit("jupyter-book is not installed: run `python -m pip install -r requirements.txt`.")
    return found


def output_folder(root: Path, extra: list[str]) -> Path:
    """The folder jupyter-book writes its _build/ into: --path-output if given, else the book's own."""
    for i, arg in enumerate(extra):
        if arg == "--path-output" and i + 1 < len(extra):
            return Path(extra[i + 1]).resolve()
        if arg.startswith("--path-output="):
            return Path(arg.split("=", 1)[1]).resolve()
    return root


def cached_pages(root: Path, config: dict[str, Any], cache_path: Path) -> dict[str, str | None]:
    """For each executed page (docname), which cache record its results come from now (None: not cached).

    A record is named by its number and its creation time: SQLite gives a new record the number of one just removed.
    """
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    pages: dict[str, str | None] = {}
    for path in toc_notebooks(root, config):
        doc = path.relative_to(root).with_suffix("").as_posix()
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            pages[doc] = None
            continue
        pages[doc] = f"{record.pk}@{record.created.isoformat()}"
    return pages


def build(root: Path = ROOT, extra: list[str] | None = None, jobs: int | None = None) -> int:
    """Build the book at root under its current conditions; return jupyter-book's exit status."""
    root, extra = root.resolve(), list(extra or [])
    jobs = jobs or os.cpu_count() or 1
    out = output_folder(root, extra)
    cond = conditions(root)
    name = cache_name(cond)
    state = out / STATE
    state.mkdir(parents=True, exist_ok=True)
    config_path = state / "_config.yml"
    cache = jupyter_cache_folder(out, name)
    config = build_config(root, cache)
    config.setdefault("sphinx", {}).setdefault("local_extensions", {})[REREAD_EXTENSION] = str(Path(__file__).resolve().parent)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    last, last_pages = state / "conditions.txt", state / "pages.json"
    changed = not last.is_file() or last.read_text().strip() != name
    cmd = [jupyter_book(), "build", str(root), "--config", str(config_path), *(["--all"] if changed else []), *extra]
    print(f"build conditions: {name} ({'changed since the last build: every page is read again' if changed else 'as last time'})")
    if config.get("execute", {}).get("execute_notebooks") == "cache":
        try:
            pre_execute(root, config, cache, jobs, artifact_graph(root, cond["mode"]))
        except MissingArtifacts as err:
            print(f"build stopped: {err}", file=sys.stderr)
            last.unlink(missing_ok=True)
            return 1
    # Sphinx reads again only the pages whose file changed; a page whose cached results changed (executed again
    # here or by the tests' nbval run, or not cached at all) is added through scripts/sphinx_reread.py.
    before = json.loads(last_pages.read_text()) if last_pages.is_file() and not changed else {}
    pages = cached_pages(root, config, cache)
    reread = state / "reread.txt"
    reread.write_text("".join(f"{doc}\n" for doc, pk in pages.items() if pk is None or before.get(doc) != pk))
    env = {**os.environ, "GENAI_REQUIRE_ARTIFACTS": "1", "GENAI_REREAD": str(reread)}  # never a stand-in model on a page
    status = subprocess.run(cmd, cwd=root, env=env).returncode
    if status == 0:
        last.write_text(name + "\n")
        last_pages.write_text(json.dumps(cached_pages(root, config, cache), indent=1, sort_keys=True) + "\n")
    else:
        last.unlink(missing_ok=True)
        last_pages.unlink(missing_ok=True)
    return status


def main(argv: list[str]) -> int:
    """Command line entry point."""
    if {"-h", "--help"} & set(argv):
        print(__doc__.strip())
        print("\njupyter-book build's own options follow; they pass through unchanged.\n", flush=True)
        return subprocess.call([jupyter_book(), "build", "--help"])
    jobs = None
    if "--jobs" in argv:
        i = argv.index("--jobs")
        jobs, argv = int(argv[i + 1]), argv[:i] + argv[i + 2 :]
    root = Path(argv[0]) if argv and not argv[0].startswith("-") else ROOT
    extra = argv[1:] if argv and not argv[0].startswith("-") else argv
    return build(root, extra, jobs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
