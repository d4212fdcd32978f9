# Setup: make the course helpers in `utils/` importable, wherever this notebook runs.
import subprocess
import sys
from pathlib import Path

REPO_URL = "https://github.com/genai-foundations/genai-foundations"
here = Path.cwd().resolve()
ROOT = next(
    (p for p in (here, *here.parents) if (p / "utils" / "__init__.py").is_file()),
    None,
)
if ROOT is None:
    # Colab or a lone notebook: fetch the helpers (torch is already installed there)
    ROOT = here / "genai-foundations"
    if not (ROOT / "utils").is_dir():
        subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", REPO_URL, str(ROOT)],
            check=True,
        )
sys.path.insert(0, str(ROOT))
