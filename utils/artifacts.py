"""Saving and loading what labs produce: trained networks as programs, samples and records, kept per mode."""

from __future__ import annotations

import copy
import datetime
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from utils import colab
from utils.config import artifacts_root, fast_mode, shown_path

LABS = {"gan": "lab 1 (01_gan_lab)", "vae": "lab 2 (02_vae_lab)"}  # which lab makes each model


class ArtifactMissingError(FileNotFoundError):
    """Raised when an artifact a notebook needs has not been made yet; the message says which lab makes it."""


class ArtifactUnusableError(ValueError):
    """Raised when a saved artifact exists but cannot be used as it is; the message says what to do."""


def mode_name() -> str:
    """The mode whose artifacts this run reads and writes: 'fast' or 'full'."""
    return "fast" if fast_mode() else "full"


def mode_root() -> Path:
    """This mode's artifacts folder, e.g. artifacts/full: fast and full runs never overwrite each other."""
    return artifacts_root() / mode_name()


def artifact_dir(name: str) -> Path:
    """Folder of one model's artifacts in this mode, e.g. artifacts/full/gan; created when missing."""
    path = mode_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _maker(name: str) -> str:
    """Which notebook makes a model's artifacts, for messages."""
    return LABS.get(name, f"the notebook that saves '{name}'")


def _existing(name: str, filename: str) -> Path:
    """Path of an existing artifact, or a clear error naming what makes it."""
    path = mode_root() / name / filename
    if not path.is_file():
        raise ArtifactMissingError(
            f"{name}/{filename} ({mode_name()} mode) is not in {shown_path(artifacts_root(), 'GENAI_ARTIFACTS')}. "
            f"Run {_maker(name)} in {mode_name()} mode first (it saves it), or point GENAI_ARTIFACTS at a "
            "folder that has it (in Colab: keep your models in Google Drive, or upload the zip the lab gave you)."
        )
    return path


def _atomic_write(data: bytes, path: Path) -> Path:
    """Write bytes to a temporary name, then rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def shown(path: Path) -> str:
    """A saved artifact as a page may show it: its place in the artifacts folder, never a path of the machine."""
    root = artifacts_root()
    return f"{Path(path).resolve().relative_to(root).as_posix()} in {shown_path(root, 'GENAI_ARTIFACTS')}"


def has_artifact(name: str, filename: str) -> bool:
    """True when this mode's <name>/<filename> exists."""
    return (mode_root() / name / filename).is_file()


def _dynamic_batch() -> Any:
    """The dimension spec of a batch of any size."""
    dim = torch.export.Dim
    return dim.DYNAMIC if hasattr(dim, "DYNAMIC") else dim("batch")


def export_program(model: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """A network, in eval mode on the CPU, as a torch.export program for a batch of any size; a clear error if it cannot be."""
    if not isinstance(example, torch.Tensor) or example.dim() < 2 or len(example) < 2:
        raise ValueError("example must be a batch of at least 2 inputs, e.g. torch.randn(4, z_dim).")
    net = copy.deepcopy(model).cpu().eval()
    x = example.detach().cpu()
    try:
        program = torch.export.export(net, (x,), dynamic_shapes=({0: _dynamic_batch()},))
    except Exception as err:  # noqa: BLE001 (any failure of export is the design's)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ArtifactUnusableError(
            f"{type(model).__name__} could not be saved as a program for lab 3 ({first[:200]}). "
            "Keep forward() to tensor operations: no Python `if` on tensor values, no .item() or NumPy, "
            "and shapes that follow the batch: x.shape[0] or -1 in view/reshape (not len(x)), or nn.Flatten / nn.Unflatten."
        ) from None
    with torch.no_grad():
        same = _outputs_match(program.module()(x[:3]), net(x[:3]))
    if not same:
        raise ArtifactUnusableError(f"the saved program of {type(model).__name__} computes something else than the network.")
    return program


def save_program(name: str, part: str, model: nn.Module, example: torch.Tensor) -> Path:
    """Save a network, in eval mode, as a torch.export program with a batch of any size: <name>/<part>.pt2."""
    buffer = io.BytesIO()
    torch.export.save(export_program(model, example), buffer)
    return _atomic_write(buffer.getvalue(), artifact_dir(name) / f"{part}.pt2")


def _outputs_match(a: Any, b: Any) -> bool:
    """True when two outputs (tensors or tuples of them) are equal up to rounding."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return all(_outputs_match(u, v) for u, v in zip(a, b, strict=True))
    return False


def _refuse_pickles(path: Path) -> None:
    """Raise unless the archive holds only a graph, raw tensor bytes and plain sample inputs (no pickled objects)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ArtifactUnusableError(f"{shown(path)} is not a saved program: run its lab again to save it anew.") from None
    with archive:
        for member in archive.namelist():
            tail = member.split("/", 1)[-1]
            if tail.endswith("_config.json") and tail.startswith("data/"):
                entries = json.loads(archive.read(member)).get("config", {}).values()
                if any(e.get("use_pickle") or not str(e.get("path_name", "")).startswith(("weight_", "tensor_")) for e in entries):
                    raise ArtifactUnusableError(f"{shown(path)} holds pickled objects; only programs saved by the labs load.")
            elif tail.startswith("data/sample_inputs/"):
                torch.load(io.BytesIO(archive.read(member)), weights_only=True)  # raises on anything but tensors
            elif tail.startswith(("data/aotinductor/", "data/constants/", "data/weights/")) and tail.endswith(".pt"):
                raise ArtifactUnusableError(f"{shown(path)} has a legacy or compiled part; save it again with its lab.")


class Program(nn.Module):
    """A network loaded from a saved program: call it like the original; eval() and train() change nothing."""

    def __init__(self, graph: nn.Module, source: str):
        super().__init__()
        self.graph = graph
        self.source = source

    def forward(self, *args: Any) -> Any:
        """Run the saved network."""
        return self.graph(*args)

    def train(self, mode: bool = True) -> Program:
        """Programs are saved in eval mode (batch norm uses its running statistics): only the flag changes."""
        self.training = mode
        return self

    def extra_repr(self) -> str:
        """Where the program came from."""
        return self.source


def load_program(name: str, part: str, device: torch.device | str = "cpu") -> Program:
    """Load <name>/<part>.pt2 of this mode on device, without the class that defined it and without unpickling."""
    path = _existing(name, f"{part}.pt2")
    _refuse_pickles(path)
    try:
        program = torch.export.load(str(path))
    except Exception as err:  # noqa: BLE001
        raise ArtifactUnusableError(
            f"{shown(path)} could not be loaded ({str(err).splitlines()[0][:200] if str(err) else type(err).__name__}); "
            f"it may come from another PyTorch version: run {_maker(name)} again here."
        ) from None
    device = torch.device(device)
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    return Program(program.module(), f"{name}/{part}.pt2").to(device)


def save_record(name: str, record: dict[str, Any]) -> Path:
    """Save a model's record (config and metrics, plain numbers and strings) as model.json, stamped with mode and date."""
    stamped = {**record, "mode": mode_name(), "saved": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    return save_json(name, "model.json", stamped)


def load_record(name: str) -> dict[str, Any]:
    """The record saved by save_record."""
    return load_json(name, "model.json")


def save_samples(name: str, samples: torch.Tensor, filename: str = "samples.pt") -> Path:
    """Save generated images as float [N, 1, 28, 28] in [0, 1]."""
    if samples.dim() != 4 or tuple(samples.shape[1:]) != (1, 28, 28):
        raise ValueError(f"samples must have shape [N, 1, 28, 28], got {list(samples.shape)}.")
    if samples.min() < 0 or samples.max() > 1:
        raise ValueError("samples must lie in [0, 1]: apply sigmoid, or map tanh outputs with (x + 1) / 2.")
    buffer = io.BytesIO()
    torch.save(samples.detach().float().cpu().contiguous(), buffer)
    return _atomic_write(buffer.getvalue(), artifact_dir(name) / filename)


def load_samples(name: str, filename: str = "samples.pt") -> torch.Tensor:
    """Load a samples tensor saved by save_samples."""
    return torch.load(_existing(name, filename), map_location="cpu", weights_only=True)


def save_json(name: str, filename: str, data: dict[str, Any]) -> Path:
    """Write a small JSON record (metrics, timings) next to a model's artifacts."""
    return _atomic_write((json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), artifact_dir(name) / filename)


def load_json(name: str, filename: str) -> dict[str, Any]:
    """Read a JSON record saved by save_json."""
    return json.loads(_existing(name, filename).read_text())


def stand_in_allowed() -> bool:
    """False in a book build (GENAI_REQUIRE_ARTIFACTS=1): a page never shows a model trained as a stand-in."""
    return os.environ.get("GENAI_REQUIRE_ARTIFACTS", "").strip() not in {"1", "true", "yes"}


def keep_models(use_drive: bool) -> None:
    """Say where this lab's models are kept; in Colab, keep them in Google Drive when use_drive is True."""
    if colab.running_in_colab():
        if use_drive:
            os.environ["GENAI_ARTIFACTS"] = str(colab.mount_drive_folder("genai-foundations/artifacts"))
            print(f"Your models are kept in Google Drive ({colab.DRIVE_FOLDER_SHOWN}), {mode_name()} mode: labs 1 to 3 share them.")
        else:
            print(
                "Your models are kept in this Colab runtime only, and are lost when it ends. To keep them, set "
                "USE_DRIVE = True above and run this cell again, or download the zip the last cell of labs 1 and 2 "
                "offers and upload it in lab 3."
            )
        return
    print(f"Models are kept in {shown_path(mode_root(), 'GENAI_ARTIFACTS')}, {mode_name()} mode (GENAI_ARTIFACTS changes it).")


def zip_models(names: list[str], target: Path) -> Path:
    """Zip this mode's folders of the named models into target, with paths relative to the artifacts root."""
    root = artifacts_root()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            for path in sorted((mode_root() / name).rglob("*")):
                if path.is_file() and not path.name.endswith(".tmp"):
                    archive.write(path, path.relative_to(root).as_posix())
    return target


def unzip_models(source: Path) -> list[str]:
    """Unpack a zip made by zip_models into the artifacts root; return the model folders it held."""
    root = artifacts_root()
    found = set()
    with zipfile.ZipFile(source) as archive:
        for member in archive.namelist():
            parts = Path(member).parts
            if len(parts) != 3 or parts[0] not in {"fast", "full"} or ".." in parts:
                raise ArtifactUnusableError(f"{Path(source).name} is not a zip of lab models (it holds {member}).")
            found.add(f"{parts[1]} ({parts[0]} mode)")
        archive.extractall(root)
    return sorted(found)


def offer_download(names: list[str]) -> None:
    """In Colab without Drive, zip the named models and download them; elsewhere say where they are kept."""
    kept_in_drive = colab.running_in_colab() and Path(artifacts_root()).is_relative_to(colab.DRIVE_ROOT)
    if not colab.running_in_colab() or kept_in_drive:
        print(f"{', '.join(names)}: kept in {shown_path(mode_root(), 'GENAI_ARTIFACTS')}, where lab 3 finds them.")
        return
    target = Path.cwd() / f"{'-'.join(names)}-{mode_name()}.zip"
    zip_models(names, target)
    colab.download(target)
    print(f"Downloading {target.name}: in lab 3, upload it when its upload cell asks.")


def offer_upload(names: list[str]) -> None:
    """In Colab, when a named model is missing, ask for the zips of labs 1 and 2 and unpack them."""
    missing = [n for n in names if not has_artifact(n, "model.json")]
    if not missing or not colab.running_in_colab():
        return
    print(f"Missing here: {', '.join(missing)}. Upload the zips labs 1 and 2 gave you (Cancel: this lab trains stand-ins).")
    found: list[str] = []
    for path in colab.upload():
        found += unzip_models(path)
    print(f"Unpacked: {', '.join(found) or 'nothing'}")
