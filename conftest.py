"""Test-wide settings: fast mode, artifacts kept apart from a full build's, and absolute data paths."""

import os
import sys
from pathlib import Path

os.environ.setdefault("GENAI_FAST", "1")
os.environ.setdefault("GENAI_ARTIFACTS", str(Path(__file__).resolve().parent / "_build" / "test-artifacts"))
# Notebooks run from their own folders, so a relative path given on the command line (GENAI_DATA=../shared/data)
# is made absolute here, against the folder pytest was started from.
for _name in ("GENAI_DATA", "GENAI_ARTIFACTS"):
    if os.environ.get(_name):
        os.environ[_name] = str(Path(os.environ[_name]).expanduser().resolve())

# Each notebook is executed once per test run: nbval's executions fill the strict book build's cache.
sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
pytest_plugins = ["executed_once"]
