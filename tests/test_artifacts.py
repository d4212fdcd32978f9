"""utils.artifacts: checkpoints that load with weights_only, validated samples, clear errors when missing."""

from __future__ import annotations

import pytest
import torch

from utils import artifacts


@pytest.fixture(autouse=True)
def artifacts_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path))
    return tmp_path


def test_checkpoint_round_trip(artifacts_in_tmp):
    model = torch.nn.Linear(3, 2)
    path = artifacts.save_checkpoint("toy", model, {"in": 3, "out": 2})
    assert path == artifacts_in_tmp / "toy" / "model.pt"
    torch.load(path, weights_only=True)  # loads safely
    state, cfg = artifacts.load_checkpoint("toy")
    rebuilt = torch.nn.Linear(cfg["in"], cfg["out"])
    rebuilt.load_state_dict(state)
    assert torch.equal(rebuilt.weight, model.weight)


def test_samples_are_validated_and_round_trip():
    good = torch.rand(8, 1, 28, 28)
    artifacts.save_samples("toy", good)
    assert torch.equal(artifacts.load_samples("toy"), good)
    assert artifacts.has_artifact("toy", "samples.pt")
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        artifacts.save_samples("toy", torch.rand(8, 784))
    with pytest.raises(ValueError, match="tanh"):
        artifacts.save_samples("toy", torch.rand(8, 1, 28, 28) * 2 - 1)


def test_missing_artifact_names_the_lab():
    assert not artifacts.has_artifact("gan", "samples.pt")
    with pytest.raises(artifacts.ArtifactMissingError, match="Run the lab that trains the 'gan' model"):
        artifacts.load_samples("gan")


def test_json_round_trip():
    artifacts.save_json("vae", "metrics.json", {"test_loss": 99.5})
    assert artifacts.load_json("vae", "metrics.json") == {"test_loss": 99.5}


def test_shown_names_an_artifact_without_a_machine_path(tmp_path, monkeypatch):
    """Pages print where a lab saved its model, never the build machine's absolute path."""
    from utils import artifacts

    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "outside"))
    path = artifacts.save_json("gan", "metrics.json", {"fid_proxy": 1.0})
    text = artifacts.shown(path)
    assert text == "gan/metrics.json in $GENAI_ARTIFACTS (a folder outside the repository)"
    assert str(tmp_path) not in text
