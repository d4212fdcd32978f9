"""Test-wide settings: fast mode, and artifacts kept apart from the ones a full build makes."""

import os
from pathlib import Path

os.environ.setdefault("GENAI_FAST", "1")
os.environ.setdefault("GENAI_ARTIFACTS", str(Path(__file__).resolve().parent / "_build" / "test-artifacts"))
