"""The built website in a real browser: headless Chromium, driven by Selenium through ChromeDriver.

The book built once for the test session (the `built_book` fixture) is served on 127.0.0.1; Chromium opens
the landing page, the first lecture and the first lab solution named in _toc.yml, and each page must have
its title, a Colab link to its notebook on branch main, figures that loaded, and no failed local request.
On those pages no solution code is visible before a click, and it is after one; every page with exercises
carries the "Do the exercises" and "With solutions" Colab links to its student copy and its source.
Screenshots land next to the built site, in `_build/test-book/_build/screenshots/`. A crawl of every built
HTML file checks that no local link or resource is missing. Chromium and its driver are Debian's `chromium`
and `chromium-driver` packages (or any Chrome and matching chromedriver; `CHROMIUM=/path/to/chrome` and
`CHROMEDRIVER=/path/to/chromedriver` pick them), never downloaded: the test installs them with apt-get when it
can, and skips only when they cannot be found nor installed, and never when the CI variable is set (then it fails).
Failed requests come from Chrome's performance log, which ChromeDriver hands to Selenium.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import assignments  # scripts/assignments.py (tests/helpers.py puts scripts/ on the path)
import pytest
from helpers import ROOT, SOLUTION_SOURCES, book_config, cell_source, read_notebook, toc_files

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    # Only the local server resolves: external resources (CDN scripts) fail at once, the same offline or not.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT = 30.0  # seconds for a page load or a script's answer
WIDTH, HEIGHT = 1280, 900


# -- Chromium ---------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """A Chromium or Chrome executable: $CHROMIUM, then the usual names on PATH."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def find_chromedriver() -> str | None:
    """ChromeDriver: $CHROMEDRIVER, then chromedriver on PATH (Debian's chromium-driver puts it there)."""
    return shutil.which(os.environ.get("CHROMEDRIVER") or "chromedriver")


def install_chromium() -> str:
    """Try Debian's chromium and chromium-driver packages (as root, with apt-get); return what happened, for the skip message."""
    if not shutil.which("apt-get"):
        return "apt-get is not available"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    packages = ["chromium", "chromium-driver"]
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` timed out"
        if out.returncode != 0:
            return f"`{' '.join(cmd)}` failed: {out.stderr.strip()[-300:]}"
    return f"apt-get install {' '.join(packages)} finished"


class Page:
    """One browser tab, driven by Selenium; the network events of Chrome's performance log are kept in `events`."""

    def __init__(self, driver: Any) -> None:
        """Wrap a Selenium Chrome driver started with the performance log on."""
        self.driver = driver
        self.events: list[dict[str, Any]] = []

    def _collect_events(self) -> None:
        """Move the network events logged since the last call into `events`."""
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method", "").startswith("Network."):
                self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        from selenium.common.exceptions import JavascriptException

        try:
            return self.driver.execute_script(f"return ({expression});")
        except JavascriptException as err:
            raise RuntimeError(f"JavaScript error: {err.msg}") from err

    def open(self, url: str, settled: str = "true") -> None:
        """Navigate, wait for the load event and then until the JavaScript condition `settled` holds."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        self._collect_events()  # what came before this page stays before the caller's mark
        self.driver.get(url)  # returns after the load event
        try:
            WebDriverWait(self.driver, TIMEOUT, poll_frequency=0.1).until(
                lambda _: self._holds(f"document.readyState === 'complete' && ({settled})")
            )
        except TimeoutException:
            raise TimeoutError(f"{url}: the page did not settle ({settled})") from None

    def _holds(self, condition: str) -> bool:
        """Whether a JavaScript condition holds now (False while a navigation replaces the page)."""
        from selenium.common.exceptions import WebDriverException

        try:
            return bool(self.evaluate(condition))
        except (RuntimeError, WebDriverException):
            return False

    def _viewport(self, height: int) -> None:
        """Make the page WIDTH x height CSS pixels, at one device pixel each."""
        metrics = {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)

    def screenshot(self, path: Path, max_height: int = 4000) -> None:
        """Save a PNG of the page from its top, at most max_height pixels tall."""
        height = max(HEIGHT, min(max_height, int(self.evaluate("document.documentElement.scrollHeight"))))
        self._viewport(height)
        try:
            self._holds("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))")
            png = self.driver.get_screenshot_as_png()
        finally:
            self._viewport(HEIGHT)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)

    def failed_requests(self, prefix: str) -> list[str]:
        """Requests to URLs starting with prefix that failed or answered >= 400, from the events kept so far."""
        self._collect_events()
        urls = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"}
        bad = []
        for e in self.events:
            p = e["params"]
            if e["method"] == "Network.loadingFailed" and not p.get("canceled"):
                bad.append(f"{urls.get(p['requestId'], '?')} ({p.get('errorText')})")
            elif e["method"] == "Network.responseReceived" and p["response"]["status"] >= 400:
                bad.append(f"{p['response']['url']} (HTTP {p['response']['status']})")
        return [b for b in bad if b.startswith(prefix) and "/favicon.ico" not in b]


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    """Paths to Chromium and ChromeDriver, installed with apt-get when missing and possible; skip when neither."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("Selenium is not installed: run `python -m pip install -r requirements.txt`.")
    exe, driver = find_chromium(), find_chromedriver()
    if exe is None or driver is None:
        what = install_chromium()
        exe, driver = find_chromium(), find_chromedriver()
        missing = " and ".join(name for name, path in (("Chromium", exe), ("ChromeDriver", driver)) if path is None)
        if missing and os.environ.get("CI"):
            pytest.fail(f"CI is set, so the browser tests must run, but {missing} was not found nor installed ({what})")
        if missing:
            pytest.skip(
                f"{missing} was not found and could not be installed ({what}); install Debian's `chromium` and "
                "`chromium-driver` packages, or set CHROMIUM and CHROMEDRIVER, to run the browser tests"
            )
    return exe, driver


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str]) -> Iterator[Page]:
    """A headless Chromium with a fresh profile and one tab, closed after the module."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException

    exe, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = exe  # the system's browser: Selenium downloads nothing
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # network events, for failed_requests
    # Chromium's helper processes can still be writing to the profile as it is removed: not a test failure
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        options.add_argument(f"--user-data-dir={profile}")
        try:
            driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
        except WebDriverException as err:
            pytest.fail(f"Chromium did not start ({exe} through {driver_path}):\n{str(err)[-2000:]}")
        try:
            driver.set_page_load_timeout(TIMEOUT)
            driver.set_script_timeout(TIMEOUT)
            page = Page(driver)
            page._viewport(HEIGHT)
            yield page
        finally:
            driver.quit()


# -- the site ----------------------------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Say nothing."""


@pytest.fixture(scope="module")
def site(built_book) -> Iterator[str]:
    """The built book served on 127.0.0.1 on a free port; yields its base URL."""
    if not (built_book.html / "index.html").is_file():
        pytest.fail("the book did not build: see test_book.py::test_book_builds_strictly\n" + built_book.log[-3000:])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(built_book.html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def shots(built_book) -> Path:
    """Folder for the screenshots, next to the built site."""
    return built_book.html.parent / "screenshots"


def plain(text: str) -> str:
    """Lower-case letters and digits only, to compare a Markdown heading with its rendered text."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def source_title(doc: str) -> str:
    """The # title of a page's source (notebook or Markdown)."""
    path = ROOT / f"{doc}.ipynb"
    if path.is_file():
        cells = [c for c in read_notebook(path)["cells"] if c["cell_type"] == "markdown"]
        text = cell_source(cells[0]) if cells else ""
    else:
        text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    return next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")


def first_doc(prefix: str) -> str | None:
    """The first file in _toc.yml under prefix."""
    return next((f for f in toc_files() if f.startswith(prefix)), None)


PAGE_FACTS = """(async () => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const imgs = [...article.querySelectorAll('img')];
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); setTimeout(done, 10000);
  })));
  const h1 = article.querySelector('h1');
  return {
    title: document.title,
    url: location.href,
    h1: h1 ? h1.textContent.replace(/#$/, '').trim() : null,
    colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href),
    images: imgs.map(img => ({src: img.currentSrc || img.src, w: img.naturalWidth, h: img.naturalHeight})),
  };
})()"""


def check_page(page: Page, base: str, rel: str, doc: str, shot: Path, notebook: bool) -> dict[str, Any]:
    """Open one page, save its screenshot, and assert what every page of the book must show."""
    mark = len(page.events)
    page.open(base + rel, settled=f"location.pathname.endsWith('/{doc}.html')")
    facts = page.evaluate(PAGE_FACTS)
    page.screenshot(shot)
    book_title = book_config()["title"]
    heading = source_title(doc)
    assert facts["h1"] and plain(facts["h1"]) == plain(heading), f"{doc}: heading {facts['h1']!r}, expected {heading!r}"
    assert facts["title"] == f"{facts['h1']} \u2014 {book_title}", f"{doc}: page title {facts['title']!r}"
    if notebook:
        repo = book_config()["repository"]["url"].removeprefix("https://github.com/")
        expected = f"https://colab.research.google.com/github/{repo}/blob/main/{doc}.ipynb"
        assert expected in facts["colab"], f"{doc}: no Colab link to {expected}; found {facts['colab']}"
        setup_line = (ROOT / "scripts" / "setup_cell.py").read_text().splitlines()[0]
        assert not [s for s in page.evaluate(SOLUTION_INPUTS) if setup_line in s], f"{doc}: the setup cell is not folded"
    broken = [i["src"] for i in facts["images"] if not (i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"{doc}: images that did not load: {broken}"
    failed = page.failed_requests(base)
    del page.events[mark:]
    assert not failed, f"{doc}: local requests that failed: {failed}"
    return facts


SOLUTION_INPUTS = """(() => {
  const inputs = [...document.querySelectorAll('.cell .cell_input')];
  return inputs.filter(el => el.getClientRects().length > 0).map(el => el.innerText);
})()"""
OPEN_FOLDED = """(() => {
  const folded = [...document.querySelectorAll('.cell.tag_hide-input details.hide')];
  folded.forEach(d => { if (!d.open) d.querySelector('summary').click(); });
  return folded.length;
})()"""


MATH_FACTS = r"""(async () => {
  const deadline = Date.now() + 20000;
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline) {
    await new Promise(done => setTimeout(done, 100));
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const maths = [...document.querySelectorAll('article .math')];
  return {
    loaded: !!(window.MathJax && MathJax.version),
    src: [...document.scripts].map(s => s.src).filter(s => s.includes('mathjax')),
    maths: maths.length,
    rendered: document.querySelectorAll('article mjx-container').length,
    raw: maths.map(m => m.textContent).filter(t => /\\\(|\\\[|\$\$/.test(t)).slice(0, 3),
  };
})()"""


def check_math_renders(page: Page, base: str, doc: str) -> None:
    """The open page's math was typeset by the MathJax the site serves itself (external hosts do not resolve)."""
    facts = page.evaluate(MATH_FACTS)
    assert facts["src"] and all(s.startswith(base) for s in facts["src"]), f"{doc}: MathJax not served by the site: {facts['src']}"
    assert facts["loaded"], f"{doc}: MathJax did not load"
    assert facts["maths"] > 0 and facts["rendered"] >= facts["maths"], f"{doc}: math not rendered: {facts}"
    assert not facts["raw"], f"{doc}: raw TeX left on the page: {facts['raw']}"


def solution_lines(doc: str) -> list[str]:
    """Distinctive code lines from inside the solution regions of a page's source notebook."""
    lines = []
    for cell in read_notebook(ROOT / f"{doc}.ipynb")["cells"]:
        if cell["cell_type"] != "code" or not assignments.is_marked(cell):
            continue
        text = cell_source(cell).split("\n")
        for start, end in assignments._regions(cell_source(cell), doc):
            lines += [s.strip() for s in text[start + 1 : end] if len(s.strip()) > 12 and not s.strip().startswith("#")][:2]
    return lines


def check_solutions_folded(page: Page, doc: str) -> None:
    """On the open page, no solution line is in a visible code cell until the folded cells are opened."""
    lines = solution_lines(doc)
    assert lines, f"{doc}: its source marks no solution code"
    visible = "\n".join(page.evaluate(SOLUTION_INPUTS))
    shown = [line for line in lines if line in visible]
    assert not shown, f"{doc}: solution code visible before a click: {shown[:3]}"
    assert page.evaluate(OPEN_FOLDED) > 0, f"{doc}: no folded code cell"
    visible = "\n".join(page.evaluate(SOLUTION_INPUTS))
    missing = [line for line in lines if line not in visible]
    assert not missing, f"{doc}: solution code still hidden after a click: {missing[:3]}"


def test_landing_page(browser, site, shots):
    check_page(browser, site, "", toc_files()[0], shots / "landing.png", notebook=False)  # the root comes first


def test_first_lecture_page(browser, site, shots):
    doc = first_doc("lectures/")
    assert doc, "_toc.yml lists no lecture"
    facts = check_page(browser, site, f"{doc}.html", doc, shots / "lecture.png", notebook=True)
    assert facts["images"], f"{doc}: no figure in the page body"


def test_lecture_with_exercises_folds_its_solutions(browser, site, shots):
    doc = first_doc("lectures/solutions/")
    assert doc, "_toc.yml lists no lecture with exercises"
    check_page(browser, site, f"{doc}.html", doc, shots / "lecture-exercises.png", notebook=True)
    check_math_renders(browser, site, doc)
    check_solutions_folded(browser, doc)


def test_first_lab_page(browser, site, shots):
    doc = first_doc("labs/solutions/")
    if doc is None:
        pytest.skip("_toc.yml lists no lab solution yet (labs/solutions/...), so there is no lab page to open")
    facts = check_page(browser, site, f"{doc}.html", doc, shots / "lab.png", notebook=True)
    assert facts["images"], f"{doc}: no figure in the page body"
    check_solutions_folded(browser, doc)


class AnchorCollector(HTMLParser):
    """Collects (href, text) of the links of one HTML page."""

    def __init__(self) -> None:
        """Start with no links."""
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a link."""
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self.anchors.append((self._href, ""))

    def handle_data(self, data: str) -> None:
        """Add text to the open link."""
        if self._href is not None:
            href, text = self.anchors[-1]
            self.anchors[-1] = (href, text + data)

    def handle_endtag(self, tag: str) -> None:
        """Close a link."""
        if tag == "a":
            self._href = None


COLAB_LINK = re.compile(r"^https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/(.+\.ipynb)$")


@pytest.mark.parametrize("source", SOLUTION_SOURCES, ids=[p.name for p in SOLUTION_SOURCES])
def test_pages_with_exercises_link_the_student_copy_and_the_source(built_book, source):
    doc = source.relative_to(ROOT).with_suffix("").as_posix()
    assert doc in toc_files(), f"{doc} is not in _toc.yml"
    parser = AnchorCollector()
    parser.feed((built_book.html / f"{doc}.html").read_text(encoding="utf-8"))
    repo = book_config()["repository"]
    want = {"Do the exercises": assignments.student_path(source), "With solutions": source}
    for label, notebook in want.items():
        hrefs = [href for href, text in parser.anchors if label in text and "colab.research.google.com" in href]
        assert len(hrefs) == 1, f"{doc}: expected one '{label}' Colab link, found {hrefs}"
        match = COLAB_LINK.match(hrefs[0])
        assert match, f"{doc}: '{label}' is not a Colab GitHub link: {hrefs[0]}"
        assert match.group(1) == repo["url"].removeprefix("https://github.com/"), hrefs[0]
        assert match.group(2) == repo.get("branch", "main"), hrefs[0]
        assert (ROOT / match.group(3)).resolve() == notebook.resolve(), f"{doc}: '{label}' opens {match.group(3)}"


def test_execution_report_lists_every_executed_notebook(built_book):
    page = built_book.html / "reports" / "execution.html"
    assert page.is_file(), "reports/execution is not in the book"
    table = re.search(r"<table.*?Run Time.*?</table>", page.read_text(encoding="utf-8"), re.DOTALL)
    assert table, "the execution report has no table of run times"
    for doc in toc_files():
        if doc.startswith(("lectures/", "labs/solutions/")) and (ROOT / f"{doc}.ipynb").is_file():
            row = re.search(rf'href="../{re.escape(doc)}.html".*?</tr>', table.group(0), re.DOTALL)
            assert row, f"the execution report has no row for {doc}"
            assert re.search(r"<p>\d+(\.\d+)?</p>", row.group(0)), f"the execution report shows no run time for {doc}"


# -- links ---------------------------------------------------------------------------------------------


class LinkCollector(HTMLParser):
    """Collects the href and src attributes of one HTML page."""

    def __init__(self) -> None:
        """Start with no links."""
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep every href and src value."""
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def local_target(page: Path, link: str, root: Path) -> Path | None:
    """The file a local link points at, or None for external URLs and in-page anchors."""
    if link.startswith(("#", "//")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link):
        return None
    path = unquote(urlsplit(link).path)
    if not path:
        return None
    target = (root / path.lstrip("/")) if path.startswith("/") else (page.parent / path)
    target = Path(os.path.normpath(target))
    return target / "index.html" if target.is_dir() else target


def test_no_broken_internal_links(built_book):
    root = built_book.html
    # Every page; _static/ holds theme assets, among them Jinja fragments named *.html that are no pages.
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    assert pages, f"no HTML in {root}"
    broken = []
    for page in pages:
        parser = LinkCollector()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for link in parser.links:
            target = local_target(page, link, root)
            if target is None:
                continue
            if not target.is_relative_to(root) or not target.is_file():
                broken.append(f"{page.relative_to(root)} -> {link}")
    assert not broken, f"{len(broken)} broken local links:\n" + "\n".join(sorted(set(broken))[:50])
