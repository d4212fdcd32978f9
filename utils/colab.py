"""Google Colab's file helpers, used only when a notebook runs there: Drive, download, upload."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

DRIVE_ROOT = Path("/content/drive")
DRIVE_FOLDER_SHOWN = "My Drive/genai-foundations/artifacts"


def running_in_colab() -> bool:
    """True inside a Google Colab runtime."""
    if "google.colab" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def mount_drive_folder(folder: str) -> Path:
    """Mount Google Drive (Colab asks the student to agree) and return My Drive/<folder>, created when missing."""
    from google.colab import drive

    drive.mount(str(DRIVE_ROOT))
    path = DRIVE_ROOT / "MyDrive" / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


def download(path: Path) -> None:
    """Send a file of the runtime to the student's browser as a download."""
    from google.colab import files

    files.download(str(path))


def upload() -> list[Path]:
    """Ask the student for files (Cancel gives none); return where they were written in the runtime."""
    from google.colab import files

    written = []
    for name, data in (files.upload() or {}).items():
        path = Path.cwd() / Path(name).name
        path.write_bytes(data)
        written.append(path)
    return written
