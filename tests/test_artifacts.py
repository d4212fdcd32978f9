"""utils.artifacts: programs that load without their class or pickles, per-mode folders, Colab's keep/download/upload."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import types
import zipfile

import pytest
import torch
from helpers import ROOT
from torch import nn

from utils import artifacts


@pytest.fixture(autouse=True)
def artifacts_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "store"))
    monkeypatch.setenv("GENAI_FAST", "1")
    monkeypatch.delenv("GENAI_REQUIRE_ARTIFACTS", raising=False)
    return tmp_path / "store"


class StudentDecoder(nn.Module):
    """A design no module of the book defines: latents [B, 3] -> (images [B, 1, 28, 28], codes [B, 2])."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Linear(16, 784)

    def forward(self, z):
        h = self.body(z)
        return self.head(h).view(z.shape[0], 1, 28, 28), h[:, :2]  # [B, 784] -> [B, 1, 28, 28]


def _trained() -> StudentDecoder:
    torch.manual_seed(0)
    net = StudentDecoder()
    net(torch.randn(64, 3))  # moves the batch-norm running statistics away from their start
    return net.eval()


def test_program_round_trip_with_any_batch_size_and_gradients(artifacts_in_tmp):
    net = _trained()
    path = artifacts.save_program("toy", "decoder", net, torch.randn(4, 3))
    assert path == artifacts_in_tmp / "fast" / "toy" / "decoder.pt2"
    loaded = artifacts.load_program("toy", "decoder")
    for batch in (1, 7):
        z = torch.randn(batch, 3)
        images, codes = loaded(z)
        assert torch.allclose(images, net(z)[0], atol=1e-5) and codes.shape == (batch, 2)
    z = torch.zeros(2, 3, requires_grad=True)
    loaded.eval().requires_grad_(False)  # lab 3 does both; neither may fail
    loaded(z)[0].sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0, "no gradient reaches the input (lab 3 inverts the generator)"


def test_a_program_loads_in_a_process_that_never_saw_its_class(artifacts_in_tmp):
    torch.manual_seed(0)
    net = _trained()
    artifacts.save_program("toy", "decoder", net, torch.randn(4, 3))
    expected = net(torch.ones(2, 3))[0].sum().item()
    code = (
        "import torch\nfrom utils import artifacts\n"
        "m = artifacts.load_program('toy', 'decoder')\nprint(m(torch.ones(2, 3))[0].sum().item())"
    )
    env = {"GENAI_ARTIFACTS": str(artifacts_in_tmp), "GENAI_FAST": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert abs(float(out.stdout.split()[-1]) - expected) < 1e-3


def test_modes_never_share_a_folder(monkeypatch):
    artifacts.save_json("gan", "metrics.json", {"mode": "fast"})
    monkeypatch.setenv("GENAI_FAST", "0")
    assert not artifacts.has_artifact("gan", "metrics.json")
    with pytest.raises(artifacts.ArtifactMissingError, match=r"full mode.*Run lab 1"):
        artifacts.load_json("gan", "metrics.json")
    artifacts.save_json("gan", "metrics.json", {"mode": "full"})
    assert artifacts.load_json("gan", "metrics.json") == {"mode": "full"}
    monkeypatch.setenv("GENAI_FAST", "1")
    assert artifacts.load_json("gan", "metrics.json") == {"mode": "fast"}


def test_a_design_that_cannot_be_exported_gets_a_message_that_says_what_to_do():
    class Branchy(nn.Module):
        def forward(self, z):
            if z.sum().item() > 0:  # a Python branch on a tensor's value
                return z
            return -z

    with pytest.raises(artifacts.ArtifactUnusableError, match="no Python `if` on tensor values"):
        artifacts.save_program("toy", "g", Branchy(), torch.randn(4, 3))

    class FixedBatch(nn.Module):
        def forward(self, z):
            return z.view(len(z), 3)  # len() fixes the batch size of the saved program

    with pytest.raises(artifacts.ArtifactUnusableError, match=r"not len\(x\)"):
        artifacts.save_program("toy", "g", FixedBatch(), torch.randn(4, 3))
    with pytest.raises(ValueError, match="batch of at least 2"):
        artifacts.save_program("toy", "g", nn.Linear(3, 3), torch.randn(3))


def _rewrite(path, edit) -> None:
    """Rewrite a zip archive's members through edit(name, data) -> data."""
    members = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            members[name] = edit(name, archive.read(name))
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_loading_refuses_archives_with_pickled_objects(artifacts_in_tmp):
    path = artifacts.save_program("toy", "g", nn.Linear(3, 2), torch.randn(4, 3))

    def pickled_weight(name, data):
        if name.endswith("model_weights_config.json"):
            config = json.loads(data)
            next(iter(config["config"].values()))["use_pickle"] = True
            return json.dumps(config).encode()
        return data

    _rewrite(path, pickled_weight)
    with pytest.raises(artifacts.ArtifactUnusableError, match="pickled objects"):
        artifacts.load_program("toy", "g")

    path = artifacts.save_program("toy", "g", nn.Linear(3, 2), torch.randn(4, 3))
    buffer = io.BytesIO()
    torch.save({"x": types.SimpleNamespace(a=1)}, buffer)  # an object that weights_only refuses

    _rewrite(path, lambda name, data: buffer.getvalue() if "/sample_inputs/" in name else data)
    with pytest.raises(Exception, match="(?i)weights.only|unsupported|global"):
        artifacts.load_program("toy", "g")

    (artifacts_in_tmp / "fast" / "toy" / "g.pt2").write_bytes(b"not a zip")
    with pytest.raises(artifacts.ArtifactUnusableError, match="run its lab again"):
        artifacts.load_program("toy", "g")


def test_record_is_stamped_with_mode_and_date():
    artifacts.save_record("vae", {"lab": 2, "epochs": 3})
    record = artifacts.load_record("vae")
    assert record["mode"] == "fast" and record["epochs"] == 3 and record["saved"].endswith("UTC")


def test_samples_are_validated_and_round_trip():
    good = torch.rand(8, 1, 28, 28)
    artifacts.save_samples("toy", good)
    assert torch.equal(artifacts.load_samples("toy"), good)
    assert artifacts.has_artifact("toy", "samples.pt")
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        artifacts.save_samples("toy", torch.rand(8, 784))
    with pytest.raises(ValueError, match="tanh"):
        artifacts.save_samples("toy", torch.rand(8, 1, 28, 28) * 2 - 1)


def test_missing_artifact_names_the_lab_and_the_mode():
    assert not artifacts.has_artifact("gan", "samples.pt")
    with pytest.raises(artifacts.ArtifactMissingError, match=r"Run lab 1 \(01_gan_lab\) in fast mode"):
        artifacts.load_samples("gan")


def test_shown_names_an_artifact_without_a_machine_path(tmp_path, monkeypatch):
    """Pages print where a lab saved its model, never the build machine's absolute path."""
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "outside"))
    path = artifacts.save_json("gan", "metrics.json", {"fid_proxy": 1.0})
    text = artifacts.shown(path)
    assert text == "fast/gan/metrics.json in $GENAI_ARTIFACTS (a folder outside the repository)"
    assert str(tmp_path) not in text


def test_stand_ins_are_refused_in_a_book_build(monkeypatch):
    assert artifacts.stand_in_allowed()
    monkeypatch.setenv("GENAI_REQUIRE_ARTIFACTS", "1")
    assert not artifacts.stand_in_allowed()


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A stand-in for google.colab: Drive mounts into tmp_path, downloads and uploads are recorded."""
    calls = {"mounted": [], "downloaded": [], "to_upload": {}}
    drive = types.SimpleNamespace(mount=lambda where: calls["mounted"].append(where))
    files = types.SimpleNamespace(download=lambda p: calls["downloaded"].append(p), upload=lambda: calls["to_upload"])
    google = types.ModuleType("google")
    colab_module = types.ModuleType("google.colab")
    colab_module.drive, colab_module.files = drive, files
    google.colab = colab_module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab_module)
    from utils import colab

    monkeypatch.setattr(colab, "DRIVE_ROOT", tmp_path / "drive")
    monkeypatch.chdir(tmp_path)
    return calls


def test_colab_with_drive_keeps_the_models_there(fake_colab, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "runtime"))
    artifacts.keep_models(use_drive=True)
    assert fake_colab["mounted"] == [str(tmp_path / "drive")]
    assert artifacts.mode_root() == tmp_path / "drive" / "MyDrive" / "genai-foundations" / "artifacts" / "fast"
    assert "Google Drive" in capsys.readouterr().out
    artifacts.save_json("gan", "model.json", {"lab": 1})
    artifacts.offer_download(["gan"])
    assert fake_colab["downloaded"] == [], "downloaded what Drive keeps"


def test_colab_without_drive_warns_then_zips_and_uploads(fake_colab, tmp_path, monkeypatch, capsys):
    artifacts.keep_models(use_drive=False)
    assert "lost when it ends" in capsys.readouterr().out and fake_colab["mounted"] == []
    artifacts.save_json("gan", "model.json", {"lab": 1})
    artifacts.save_program("gan", "generator", nn.Linear(3, 2), torch.randn(4, 3))
    artifacts.offer_download(["gan"])
    zipped = tmp_path / "gan-fast.zip"
    assert fake_colab["downloaded"] == [str(zipped)] and zipped.is_file()
    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path / "new-runtime"))  # lab 3, in a runtime of its own
    assert not artifacts.has_artifact("gan", "model.json")
    fake_colab["to_upload"].update({"gan-fast.zip": zipped.read_bytes()})
    artifacts.offer_upload(["gan"])
    assert "Unpacked: gan (fast mode)" in capsys.readouterr().out
    assert artifacts.load_record("gan") == {"lab": 1}
    assert artifacts.load_program("gan", "generator")(torch.ones(2, 3)).shape == (2, 2)
    fake_colab["to_upload"].clear()
    artifacts.offer_upload(["gan"])
    assert "Upload" not in capsys.readouterr().out, "asked for an upload of what is already there"


def test_an_unrelated_zip_is_refused(fake_colab, tmp_path):
    bad = tmp_path / "notes.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("notes/readme.txt", "hello")
    fake_colab["to_upload"].update({"notes.zip": bad.read_bytes()})
    with pytest.raises(artifacts.ArtifactUnusableError, match="not a zip of lab models"):
        artifacts.offer_upload(["gan"])


def test_locally_nothing_is_zipped_and_the_folder_is_named(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    artifacts.offer_upload(["gan"])
    artifacts.keep_models(use_drive=True)
    artifacts.offer_download(["gan"])
    out = capsys.readouterr().out
    assert "Upload" not in out and "Models are kept in $GENAI_ARTIFACTS" in out and "fast mode" in out
    assert not list(tmp_path.glob("*.zip"))
