"""utils.metrics: the shipped classifier is accurate, and each metric separates good samples from bad ones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from utils import metrics
from utils.data import load_mnist


@pytest.fixture(scope="module")
def test_set():
    return load_mnist(train=False)


@pytest.fixture(scope="module")
def real_feats(test_set):
    x, _ = test_set
    return metrics.classify(x[:2000])


def test_classifier_reaches_99_percent(test_set):
    x, y = test_set
    _, probs = metrics.classify(x)
    accuracy = (probs.argmax(1) == y).double().mean().item()
    assert accuracy >= 0.99, f"classifier test accuracy {accuracy:.4f} < 0.99"


def test_fid_proxy_is_small_for_real_and_large_for_noise(test_set, real_feats):
    x, _ = test_set
    f_other, _ = metrics.classify(x[5000:7000])
    f_noise, _ = metrics.classify(torch.rand(2000, 1, 28, 28))
    real_vs_real = metrics.frechet_distance(real_feats[0], f_other)
    real_vs_noise = metrics.frechet_distance(real_feats[0], f_noise)
    assert real_vs_real < real_vs_noise / 20
    assert metrics.frechet_distance(real_feats[0], real_feats[0]) == pytest.approx(0.0, abs=1e-3)


def test_class_coverage_catches_mode_collapse(test_set):
    x, y = test_set
    full = metrics.class_coverage(metrics.classify(x[:2000])[1])
    assert full["digits_present"] == 10 and full["kl_to_uniform"] < 0.02
    ones = metrics.class_coverage(metrics.classify(x[y == 1][:500])[1])
    assert ones["digits_present"] == 1 and ones["kl_to_uniform"] > 2.0
    assert ones["min_fraction"] == 0.0


def test_precision_recall_separate_quality_from_coverage(test_set, real_feats):
    x, y = test_set
    held_out = x[5000:7000]
    garbage = torch.cat([held_out[:1000], torch.rand(1000, 1, 28, 28)])  # half real, half noise
    blurred = F.avg_pool2d(held_out, 5, stride=1, padding=2)
    dropped = x[5000:9000][y[5000:9000] < 3][:1000]  # only digits 0, 1, 2
    p_real, r_real = metrics.precision_recall(real_feats[0], metrics.classify(held_out)[0])
    p_garbage, _ = metrics.precision_recall(real_feats[0], metrics.classify(garbage)[0])
    _, r_blur = metrics.precision_recall(real_feats[0], metrics.classify(blurred)[0])
    _, r_drop = metrics.precision_recall(real_feats[0], metrics.classify(dropped)[0])
    assert p_real > 0.6 and r_real > 0.6
    assert p_garbage < p_real - 0.15, "noise images should lose precision"
    assert r_blur < 0.3, "blurry digits cover little of the real manifold"
    assert r_drop < r_real - 0.3, "dropping seven digits should lose recall"


def test_precision_recall_reuses_real_radii(test_set, real_feats):
    x, _ = test_set
    f_real, f_fake = real_feats[0], metrics.classify(x[5000:6000])[0]
    radii = metrics.knn_radii(f_real)
    assert metrics.precision_recall(f_real, f_fake, real_radii=radii) == metrics.precision_recall(f_real, f_fake)
    # radii of other features give other answers, and radii of the wrong length are refused
    shrunk = metrics.precision_recall(f_real, f_fake, real_radii=radii / 4)
    assert shrunk[0] < metrics.precision_recall(f_real, f_fake)[0] - 0.2
    with pytest.raises(ValueError, match="knn_radii"):
        metrics.precision_recall(f_real, f_fake, real_radii=radii[:-1])


def test_fid_proxy_grows_with_corruption(test_set, real_feats):
    x, _ = test_set
    held_out = x[5000:7000]
    fid_real = metrics.frechet_distance(real_feats[0], metrics.classify(held_out)[0])
    fid_blur = metrics.frechet_distance(real_feats[0], metrics.classify(F.avg_pool2d(held_out, 5, 1, 2))[0])
    assert fid_blur > 5 * fid_real


def test_evaluate_samples_and_format(test_set):
    x, _ = test_set
    m = metrics.evaluate_samples(x[:600], x[600:1200])
    assert {"fid_proxy", "precision", "recall", "digits_present", "kl_to_uniform", "confidence", "histogram"} <= set(m)
    line = metrics.format_metrics(m)
    assert "FID-proxy" in line and "recall" in line


def test_bad_inputs_get_clear_messages(test_set):
    x, _ = test_set
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        metrics.classify(torch.rand(10, 28, 28))
    with pytest.raises(ValueError, match="tanh"):
        metrics.classify(x[:10] * 2 - 1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        metrics.classify(x[:10].numpy())
    flat = metrics.classify(x[:10].view(10, 784))[1]  # [N, 784] is accepted
    assert flat.shape == (10, 10)
