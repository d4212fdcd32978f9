"""utils.config: fast mode, pick, device choice, seeding, folders."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from utils import config


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False), ("off", False)])
def test_fast_mode_reads_the_flag(monkeypatch, value, expected):
    monkeypatch.setenv("GENAI_FAST", value)
    assert config.fast_mode() is expected


def test_fast_mode_defaults_to_full(monkeypatch):
    monkeypatch.delenv("GENAI_FAST", raising=False)
    assert config.fast_mode() is False


def test_fast_mode_rejects_nonsense_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("GENAI_FAST", "maybe")
    with pytest.raises(ValueError, match="GENAI_FAST"):
        config.fast_mode()


def test_pick_follows_the_mode(monkeypatch):
    monkeypatch.setenv("GENAI_FAST", "1")
    assert config.pick(full=100, fast=3) == 3
    monkeypatch.setenv("GENAI_FAST", "0")
    assert config.pick(full=100, fast=3) == 100


def test_device_override_and_default(monkeypatch):
    monkeypatch.setenv("GENAI_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    monkeypatch.delenv("GENAI_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert config.get_device().type == "cuda"
    else:
        assert config.get_device().type in {"mps", "cpu"}


def test_device_prefers_mps_over_cpu(monkeypatch):
    monkeypatch.delenv("GENAI_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert config.get_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.get_device().type == "cpu"


def test_seed_everything_makes_runs_repeat():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    assert config.seed_everything(7) == 7
    first = draw()
    config.seed_everything(7)
    assert draw() == first
    config.seed_everything(8)
    assert draw() != first


def test_roots_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "a"))
    assert config.data_root() == tmp_path / "d"
    assert config.artifacts_root() == tmp_path / "a"
    monkeypatch.delenv("GENAI_DATA")
    monkeypatch.delenv("GENAI_ARTIFACTS")
    assert config.data_root() == config.REPO_ROOT / "data"
    assert config.artifacts_root() == config.REPO_ROOT / "artifacts"


def test_describe_names_device_mode_and_seed(monkeypatch):
    monkeypatch.setenv("GENAI_FAST", "1")
    config.seed_everything(3)
    line = config.describe()
    assert "device:" in line and "fast" in line and "seed: 3" in line


def test_the_test_run_passes_absolute_data_paths_to_the_notebooks():
    # notebooks execute from their own folders, so a relative GENAI_DATA would point somewhere else there
    for name in ("GENAI_DATA", "GENAI_ARTIFACTS"):
        if os.environ.get(name):
            assert os.path.isabs(os.environ[name]), f"{name}={os.environ[name]} reaches the notebooks as a relative path"


def test_shown_path_never_names_a_folder_outside_the_repository(tmp_path):
    assert config.shown_path(config.REPO_ROOT / "data", "GENAI_DATA") == "data/ (in the repository)"
    shown = config.shown_path(tmp_path, "GENAI_DATA")
    assert str(tmp_path) not in shown and "$GENAI_DATA" in shown


def test_fast_note_shows_only_in_fast_mode(monkeypatch, capsys):
    """The note appears in fast mode and stays away in full mode (where the page's claims hold)."""
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    monkeypatch.setenv("GENAI_FAST", "0")
    config.fast_note("too short to collapse.")
    assert shown == []
    monkeypatch.setenv("GENAI_FAST", "1")
    config.fast_note("too short to collapse.")
    assert shown == ["> **Fast mode.** too short to collapse."]


def test_fast_note_prints_without_ipython(monkeypatch, capsys):
    """Outside IPython the note is printed."""
    import builtins

    real_import = builtins.__import__

    def no_ipython(name, *args, **kwargs):
        if name.startswith("IPython"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipython)
    monkeypatch.setenv("GENAI_FAST", "1")
    config.fast_note("too short.")
    assert capsys.readouterr().out == "Fast mode: too short.\n"


def test_claim_passes_through_a_supported_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENAI_FAST", raising=False)
    assert config.claim(True, "the fix heals") is None, "a cell ending with a claim would show its value"


def test_claim_stops_a_full_mode_run_that_contradicts_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENAI_FAST", raising=False)
    with pytest.raises(config.ClaimNotSupported, match="the fix heals.*recall 0.04"):
        config.claim(False, "the fix heals", shown="recall 0.04")
    error = config.ClaimNotSupported("x")
    assert error._render_traceback_() == ["ClaimNotSupported: x"]


def test_claim_is_not_enforced_in_fast_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_FAST", "1")
    assert config.claim(False, "the fix heals", shown="recall 0.04") is None


def test_bf16_follows_the_switch_and_the_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("GENAI_BF16", "1")
    assert config.bf16_pays(cpu)
    monkeypatch.setenv("GENAI_BF16", "0")
    assert not config.bf16_pays(cpu)
    monkeypatch.setenv("GENAI_BF16", "maybe")
    with pytest.raises(ValueError, match="GENAI_BF16"):
        config.bf16_pays(cpu)
    monkeypatch.delenv("GENAI_BF16")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert config.bf16_pays(cpu)
    assert not config.bf16_pays(torch.device("cuda"))  # GPUs train in float32 unless the switch says otherwise
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not config.bf16_pays(cpu)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # an older torch
    assert not config.bf16_pays(cpu)


def test_autocast_runs_matrix_products_in_bfloat16_only_where_it_pays(monkeypatch):
    a, b = torch.randn(4, 8), torch.randn(8, 2)
    monkeypatch.setenv("GENAI_BF16", "1")
    with config.autocast(torch.device("cpu")):
        assert (a @ b).dtype == torch.bfloat16
    monkeypatch.setenv("GENAI_BF16", "0")
    with config.autocast(torch.device("cpu")):
        assert (a @ b).dtype == torch.float32
