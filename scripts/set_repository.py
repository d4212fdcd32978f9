"""Point the book at another GitHub repository: its Colab links, the setup cell that clones it, the docs.

Usage: python scripts/set_repository.py https://github.com/OWNER/NAME

Rewrites `repository.url` in _config.yml and `REPO_URL` in scripts/setup_cell.py (plus the clone
instructions in intro.md, README.md and instructors.md), then re-normalises every notebook so that its
setup cell is the new one, and regenerates the student copies of the labs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL_PATTERN = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")
DOCS = ("intro.md", "README.md", "instructors.md")


def parse_url(url: str) -> tuple[str, str]:
    """The (url, repository name) of a GitHub repository URL; raise ValueError for anything else."""
    url = url.strip().rstrip("/").removesuffix(".git")
    match = URL_PATTERN.match(url)
    if not match:
        raise ValueError(f"not a GitHub repository URL: {url!r} (expected https://github.com/OWNER/NAME)")
    return url, match.group(2)


def current_url(root: Path) -> str:
    """The repository URL that scripts/setup_cell.py names now."""
    match = re.search(r'^REPO_URL = "([^"]+)"$', (root / "scripts" / "setup_cell.py").read_text(), re.MULTILINE)
    if not match:
        raise ValueError('scripts/setup_cell.py has no line REPO_URL = "..."')
    return match.group(1)


def rewrite(path: Path, replacements: list[tuple[str, str]]) -> bool:
    """Apply regex replacements to a text file; return True when it changed."""
    if not path.is_file():
        return False
    before = path.read_text(encoding="utf-8")
    after = before
    for pattern, repl in replacements:
        after = re.sub(pattern, repl, after, flags=re.MULTILINE)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def set_repository(url: str, root: Path = ROOT) -> list[str]:
    """Rewrite every place that names the repository; return the files changed (relative paths)."""
    root = root.resolve()
    new_url, new_name = parse_url(url)
    old_url = current_url(root)
    old_name = old_url.rstrip("/").rsplit("/", 1)[-1]
    esc_old_url, esc_old_name = re.escape(old_url), re.escape(old_name)
    changed = []
    edits: dict[str, list[tuple[str, str]]] = {
        "_config.yml": [(r"^(repository:[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*).*$", lambda m: m.group(1) + new_url)],
        "scripts/setup_cell.py": [
            (r'^REPO_URL = ".*"$', lambda m: f'REPO_URL = "{new_url}"'),
            (rf'here / "{esc_old_name}"', lambda m: f'here / "{new_name}"'),
        ],
    }
    for doc in DOCS:
        edits[doc] = [
            (esc_old_url + r"(?![\w.-])", lambda m: new_url),
            (rf"^(\s*)cd {esc_old_name}\s*$", lambda m: f"{m.group(1)}cd {new_name}"),
        ]
    for rel, replacements in edits.items():
        if rewrite(root / rel, replacements):
            changed.append(rel)
    # The normaliser reads the setup cell when it starts, so run it afresh; then remake the student copies.
    for cmd in ([sys.executable, "scripts/normalize_notebooks.py"], [sys.executable, "scripts/assignments.py"]):
        out = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[1:])} failed:\n{out.stdout}{out.stderr}")
        for line in out.stdout.splitlines():
            if line.startswith(("normalised ", "wrote ")):
                path = Path(line.split(" ", 1)[1])
                changed.append(path.relative_to(root).as_posix() if path.is_absolute() else path.as_posix())
    return changed


def main(argv: list[str]) -> int:
    """Command line entry point."""
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        changed = set_repository(argv[0])
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for rel in changed:
        print(f"updated {rel}")
    print(f"The book now points at {parse_url(argv[0])[0]}; rebuild it to refresh the Colab links.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
