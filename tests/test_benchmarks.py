"""The benchmark scripts: their README sections are replaced in place, and every loop they time runs."""

from __future__ import annotations

import os
import sys

import torch
from helpers import ROOT
from torch import nn

sys.path.insert(0, str(ROOT / "benchmarks"))

import gan_sweep  # noqa: E402
import loop_ratios  # noqa: E402
import time_build  # noqa: E402
import vae_sweep  # noqa: E402
from readme_section import KEEP, chosen_variants, provenance, replace_section, table_section  # noqa: E402


def test_replace_section_keeps_the_other_sections(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## A\n\nold a\n\n## B\n\nold b\n")
    replace_section(readme, "## A", "## A\n\nnew a\n")
    assert readme.read_text() == "# Benchmarks\n\n## A\n\nnew a\n\n## B\n\nold b\n"
    replace_section(readme, "## C", "## C\n\nc\n")
    assert readme.read_text().endswith("## B\n\nold b\n\n## C\n\nc\n")


def test_replace_section_keeps_the_hand_written_tail(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n## A\n\nold table\n\n{KEEP}\nwhat it says\n\n## B\n\nold b\n")
    replace_section(readme, "## A", "## A\n\nnew table\n")
    assert readme.read_text() == f"# Benchmarks\n\n## A\n\nnew table\n\n{KEEP}\nwhat it says\n\n## B\n\nold b\n"
    replace_section(readme, "## B", "## B\n\nnew b\n")  # the last section, and no tail to keep
    assert readme.read_text().endswith(f"{KEEP}\nwhat it says\n\n## B\n\nnew b\n")
    readme.write_text(readme.read_text() + f"\n{KEEP}\nb says\n")  # a tail in the last section
    replace_section(readme, "## B", "## B\n\nnewer b\n")
    assert readme.read_text().endswith(f"## B\n\nnewer b\n\n{KEEP}\nb says\n")


def test_every_timed_loop_trains():
    """Each of the six loops takes a step on a small batch and changes its model's weights."""
    device = torch.device("cpu")
    x = torch.rand(8, 1, 28, 28)
    for make in (loop_ratios.lab_vae_step, loop_ratios.tutorial_vae_step, loop_ratios.lab_gan_step, loop_ratios.tutorial_gan_step):
        torch.manual_seed(0)
        step = make(device)
        params = [c.cell_contents for c in step.__closure__ or () if isinstance(c.cell_contents, torch.optim.Optimizer)]
        before = [p.detach().clone() for opt in params for g in opt.param_groups for p in g["params"]]
        step(x)
        after = [p for opt in params for g in opt.param_groups for p in g["params"]]
        assert before and any(not torch.equal(b, a) for b, a in zip(before, after, strict=True)), make.__name__


def test_gan_sweep_variants_change_the_lab_models():
    """The sweep's design variants keep the shapes and really differ from lab 1's networks."""
    from lab_code import gan_lab

    z = torch.randn(4, gan_lab.Z_DIM)
    size = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    for c in (32, 48):
        G = gan_sweep.textbook_generator(c)
        x = G(z)
        assert x.shape == (4, 1, 28, 28) and size(G) < size(gan_lab.Generator(channels=c))
        for D in (gan_sweep.shallow_discriminator(c), gan_sweep.linear_head_discriminator(c)):
            assert D(x).shape == (4, 1) and size(D) < size(gan_lab.Discriminator(c))
        linear = gan_sweep.linear_head_discriminator(c)
        assert not any(isinstance(m, nn.Linear) and m.out_features > 1 for m in linear.modules())
    known = {"lr_g", "lr_d", "betas", "channels", "batch", "real_label", "sn", "textbook_g", "shallow_d", "linear_head", "float32"}
    assert all(set(opts) <= known for opts in gan_sweep.VARIANTS.values())


def test_a_float32_variant_trains_without_bfloat16_and_leaves_the_switch_as_it_was(monkeypatch):
    from utils import config

    cpu = torch.device("cpu")
    monkeypatch.setenv("GENAI_BF16", "1")
    with gan_sweep.precision({"float32": True}):
        assert not config.bf16_pays(cpu)
    assert config.bf16_pays(cpu)
    with gan_sweep.precision({}):
        assert config.bf16_pays(cpu)
    monkeypatch.delenv("GENAI_BF16")
    with gan_sweep.precision({"float32": True}):
        assert not config.bf16_pays(cpu)
    assert "GENAI_BF16" not in os.environ


def test_every_gan_sweep_variant_builds_networks_that_fit_the_lab():
    """Each variant's generator takes the lab's noise and its discriminator scores the generator's images."""
    from lab_code import gan_lab

    z = torch.randn(4, gan_lab.Z_DIM)
    for name, opts in gan_sweep.VARIANTS.items():
        c = opts.get("channels", gan_lab.CHANNELS)
        G, D = gan_sweep.make_generator(opts, c), gan_sweep.make_discriminator(opts, c)
        x = G(z)
        assert x.shape == (4, 1, 28, 28) and D(x).shape == (4, 1), name


def test_every_vae_sweep_variant_builds_a_vae_that_fits_the_lab():
    """Each variant's encoder gives (mu, logvar) of its z size, its decoder logits of an image, and every option is one run reads."""
    from lab_code import vae_lab

    x = torch.rand(4, 1, 28, 28)
    known = {"epochs", "batch", "lr", "z_dim", "conv", "free_bits", "gaussian"}
    for name, opts in vae_sweep.VARIANTS.items():
        assert set(opts) <= known, name
        vae = vae_sweep.make_vae(opts).cpu()
        z_dim = opts.get("z_dim", vae_lab.Z_DIM)
        mu, logvar = vae.encoder(x)
        assert mu.shape == logvar.shape == (4, z_dim) and vae.z_dim == z_dim, name
        assert vae.decoder(mu).shape == (4, 1, 28, 28), name
        assert isinstance(vae.decoder, vae_sweep.ConvDecoder) == bool(opts.get("conv")), name


def test_the_vae_sweeps_training_losses_do_what_their_names_say():
    """Free bits floor each dimension's KL and leave the rest of the lab's loss alone; the Gaussian loss is the
    negative log-likelihood under the batch's mean squared error as variance; the lab's loss comes back after."""
    from lab_code import vae_lab

    lab_vae_loss = vae_lab.vae_loss
    g = torch.Generator().manual_seed(0)
    x, logits = torch.rand(8, 1, 28, 28, generator=g), torch.randn(8, 1, 28, 28, generator=g)
    mu, logvar = torch.zeros(8, 4, requires_grad=True), torch.zeros(8, 4)  # KL 0 in each of 4 dimensions
    loss, recon, kl = vae_sweep.free_bits_loss(0.5)(logits, x, mu, logvar)
    lab_loss, lab_recon, _ = lab_vae_loss(logits, x, mu, logvar)
    assert torch.isclose(recon, lab_recon) and kl == 0
    assert torch.isclose(loss, lab_loss + 4 * 0.5), "each dimension counts as 0.5 nats"
    loss.backward()
    assert mu.grad.abs().max() == 0, "below the floor the KL pushes nothing"
    far = torch.full((8, 4), 3.0)  # 4.5 nats per dimension, above the floor: the lab's loss
    assert torch.isclose(vae_sweep.free_bits_loss(0.5)(logits, x, far, logvar)[0], lab_vae_loss(logits, x, far, logvar)[0])
    _, recon, kl = vae_sweep.gaussian_loss(logits, x, far, logvar)
    x_hat = torch.sigmoid(logits)
    sigma = (x - x_hat).pow(2).mean().sqrt()
    assert torch.isclose(recon, -torch.distributions.Normal(x_hat, sigma).log_prob(x).sum() / 8, rtol=1e-5)
    assert torch.isclose(kl, torch.tensor(4 * 4.5))
    for opts, used in (({"free_bits": 0.5}, None), ({"gaussian": True}, vae_sweep.gaussian_loss), ({}, lab_vae_loss)):
        with vae_sweep.training_loss(opts):
            assert vae_lab.vae_loss is not lab_vae_loss if used is None else vae_lab.vae_loss is used
        assert vae_lab.vae_loss is lab_vae_loss


def test_the_labs_mixture_recovers_two_known_clusters():
    """fit_mixture, lab 2's EM, finds the weights and means of a well-separated two-component mixture; a shuffled start does not matter."""
    from lab_code import vae_lab

    g = torch.Generator().manual_seed(0)
    a = torch.randn(3000, 2, generator=g) * 0.5 + torch.tensor([4.0, 0.0])
    b = torch.randn(1000, 2, generator=g) * 0.5 - torch.tensor([4.0, 0.0])
    for seed in (0, 1):
        mixture = vae_lab.fit_mixture(torch.cat([a, b]), k=2, steps=30, seed=seed)
        weights = mixture.mixture_distribution.probs
        means = mixture.component_distribution.mean
        order = means[:, 0].argsort(descending=True)
        assert torch.allclose(weights[order], torch.tensor([0.75, 0.25]), atol=0.02), weights
        assert torch.allclose(means[order], torch.tensor([[4.0, 0.0], [-4.0, 0.0]]), atol=0.1), means
        assert mixture.sample((5,)).shape == (5, 2)


def test_sweeps_name_their_variants_and_their_provenance():
    import argparse

    import pytest

    parser = argparse.ArgumentParser()
    variants = {"lab": {}, "other": {}}
    assert chosen_variants(parser, None, variants) == ["lab", "other"]
    assert chosen_variants(parser, ["other"], variants) == ["other"]
    with pytest.raises(SystemExit):
        chosen_variants(parser, ["lab", "typo"], variants)
    lines = provenance("python benchmarks/x.py --write")
    assert lines[0].startswith("- **command:** `python benchmarks/x.py --write` on ")
    assert f"torch {torch.__version__}" in lines[1] and lines[-1] == ""
    text = table_section("## S", "What it is.", ["variant", "a", "b"], ["| lab | 1 | 2 |"], "python benchmarks/x.py")
    assert text.split("\n")[:7] == ["## S", "", "What it is.", "", "| variant | a | b |", "|---|---:|---:|", "| lab | 1 | 2 |"]
    assert text.split("\n")[8].startswith("- **command:** `python benchmarks/x.py` on ")


def test_build_section_states_the_ratio():
    text = time_build.render("full", serial=1000.0, parallel=500.0, jobs=2)
    assert "| one at a time (`--jobs 1`) | 1000 |" in text and "2.00x faster" in text
