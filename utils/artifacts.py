"""Saving and loading what labs produce: checkpoints, sample tensors and metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from utils.config import artifacts_root, shown_path


class ArtifactMissingError(FileNotFoundError):
    """Raised when an artifact a notebook needs has not been made yet; the message says which lab makes it."""


def artifact_dir(name: str) -> Path:
    """Folder of one model's artifacts, e.g. artifacts/gan; created when missing."""
    path = artifacts_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _existing(name: str, filename: str) -> Path:
    """Path of an existing artifact, or a clear error naming what makes it."""
    path = artifacts_root() / name / filename
    if not path.is_file():
        raise ArtifactMissingError(
            f"{path} does not exist yet. Run the lab that trains the '{name}' model first "
            f"(it saves {filename}), or point GENAI_ARTIFACTS at a folder that has it."
        )
    return path


def _atomic_save(obj: Any, path: Path) -> Path:
    """torch.save to a temporary name, then rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    return path


def shown(path: Path) -> str:
    """A saved artifact as a page may show it: its place in the artifacts folder, never a path of the machine."""
    root = artifacts_root()
    return f"{Path(path).resolve().relative_to(root).as_posix()} in {shown_path(root, 'GENAI_ARTIFACTS')}"


def has_artifact(name: str, filename: str) -> bool:
    """True when artifacts/<name>/<filename> exists."""
    return (artifacts_root() / name / filename).is_file()


def save_checkpoint(name: str, model: torch.nn.Module, config: dict[str, Any], filename: str = "model.pt") -> Path:
    """Save a model's state_dict with the config (plain numbers and strings) needed to rebuild it."""
    path = artifact_dir(name) / filename
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return _atomic_save({"state_dict": state, "config": dict(config)}, path)


def load_checkpoint(name: str, filename: str = "model.pt") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load (state_dict, config) saved by save_checkpoint, with weights_only=True."""
    blob = torch.load(_existing(name, filename), map_location="cpu", weights_only=True)
    return blob["state_dict"], blob["config"]


def save_samples(name: str, samples: torch.Tensor, filename: str = "samples.pt") -> Path:
    """Save generated images as float [N, 1, 28, 28] in [0, 1]."""
    if samples.dim() != 4 or tuple(samples.shape[1:]) != (1, 28, 28):
        raise ValueError(f"samples must have shape [N, 1, 28, 28], got {list(samples.shape)}.")
    if samples.min() < 0 or samples.max() > 1:
        raise ValueError("samples must lie in [0, 1]: apply sigmoid, or map tanh outputs with (x + 1) / 2.")
    path = artifact_dir(name) / filename
    return _atomic_save(samples.detach().float().cpu(), path)


def load_samples(name: str, filename: str = "samples.pt") -> torch.Tensor:
    """Load a samples tensor saved by save_samples."""
    return torch.load(_existing(name, filename), map_location="cpu", weights_only=True)


def save_json(name: str, filename: str, data: dict[str, Any]) -> Path:
    """Write a small JSON record (metrics, timings) next to a model's artifacts."""
    path = artifact_dir(name) / filename
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def load_json(name: str, filename: str) -> dict[str, Any]:
    """Read a JSON record saved by save_json."""
    return json.loads(_existing(name, filename).read_text())
