"""Test-wide settings: fast mode, artifacts kept apart from a full build's, and absolute data paths."""

import os
from pathlib import Path

os.environ.setdefault("GENAI_FAST", "1")
os.environ.setdefault("GENAI_ARTIFACTS", str(Path(__file__).resolve().parent / "_build" / "test-artifacts"))
# Notebooks run from their own folders, so a relative path given on the command line (GENAI_DATA=../shared/data)
# is made absolute here, against the folder pytest was started from.
for _name in ("GENAI_DATA", "GENAI_ARTIFACTS"):
    if os.environ.get(_name):
        os.environ[_name] = str(Path(os.environ[_name]).expanduser().resolve())
