"""scripts/set_repository.py rewrites the repository URL everywhere, on a copy of the repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, cell_source

sys.path.insert(0, str(ROOT / "scripts"))

import set_repository  # noqa: E402

NEW = "https://github.com/example-university/genai-course"
SKIP = shutil.ignore_patterns("_build", "data", "artifacts", ".git", ".venv", "__pycache__", ".ipynb_checkpoints", "*.pt")


def first_code_cell(path: Path) -> str:
    """Source of a notebook's first code cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return next(cell_source(c) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the repository's sources, with one lab source and its student copy."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    lab = json.loads((ROOT / "lectures" / "00_getting_started.ipynb").read_text(encoding="utf-8"))
    lab["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\n",
        }
    )
    (copy / "labs" / "solutions").mkdir(parents=True, exist_ok=True)
    (copy / "labs" / "solutions" / "99_probe.ipynb").write_text(json.dumps(lab), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://github.com/a/b", ("https://github.com/a/b", "b")),
        ("https://github.com/a/b.git", ("https://github.com/a/b", "b")),
        ("https://github.com/a/b-c/", ("https://github.com/a/b-c", "b-c")),
    ],
)
def test_parse_url(url, expected):
    assert set_repository.parse_url(url) == expected


@pytest.mark.parametrize("bad", ["github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a", "https://github.com/a/b/tree/main"])
def test_parse_url_refuses_other_urls(bad):
    with pytest.raises(ValueError, match="not a GitHub repository URL"):
        set_repository.parse_url(bad)


def test_set_repository_rewrites_config_setup_cell_and_notebooks(repo_copy):
    old = set_repository.current_url(repo_copy)
    out = subprocess.run([sys.executable, "scripts/set_repository.py", NEW], cwd=repo_copy, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr

    config = yaml.safe_load((repo_copy / "_config.yml").read_text())
    assert config["repository"]["url"] == NEW
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    setup = (repo_copy / "scripts" / "setup_cell.py").read_text()
    assert f'REPO_URL = "{NEW}"' in setup and 'here / "genai-course"' in setup
    notebooks = [*repo_copy.glob("lectures/*.ipynb"), *repo_copy.glob("labs/solutions/*.ipynb"), *repo_copy.glob("labs/*.ipynb")]
    assert (repo_copy / "labs" / "99_probe.ipynb") in notebooks, "the student copy was not regenerated"
    for nb in notebooks:
        assert first_code_cell(nb).rstrip("\n") == setup.rstrip("\n"), f"{nb.name} still has the old setup cell"
    for path in [repo_copy / "_config.yml", repo_copy / "intro.md", *notebooks]:
        assert old not in path.read_text(encoding="utf-8"), f"{path.name} still names {old}"
    assert re.search(r"^cd genai-course$", (repo_copy / "intro.md").read_text(), re.MULTILINE)
    assert "updated _config.yml" in out.stdout and "updated labs/99_probe.ipynb" in out.stdout


def test_set_repository_refuses_a_bad_url(repo_copy):
    before = (repo_copy / "_config.yml").read_text()
    cmd = [sys.executable, "scripts/set_repository.py", "not-a-url"]
    out = subprocess.run(cmd, cwd=repo_copy, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not a GitHub repository URL" in out.stderr
    assert (repo_copy / "_config.yml").read_text() == before
