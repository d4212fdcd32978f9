"""Judging generated digits with a small MNIST classifier shipped in the repo.

FID-proxy: Frechet distance between Gaussians fitted to the classifier's 128-d features.
Class coverage: the histogram of predicted digits, how many digits appear, its KL to uniform.
Precision/recall: k-nearest-neighbour manifolds in feature space (Kynkaanniemi et al., 2019).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "weights" / "mnist_classifier.pt"
FEATURE_DIM = 128
PRESENT_FRACTION = 0.01  # a digit counts as present when at least 1% of samples are classified as it


class MNISTClassifier(nn.Module):
    """A small CNN: 28x28 digits in [0, 1] -> 128-d features -> 10 logits."""

    def __init__(self) -> None:
        """Build the layers (two conv blocks, one hidden linear layer)."""
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, 10] for images [N, 1, 28, 28]."""
        return self.head(self.features(x))


_cache: dict[str, MNISTClassifier] = {}


def load_classifier(device: torch.device | str = "cpu") -> MNISTClassifier:
    """The shipped classifier in eval mode on device (loaded once per device)."""
    key = str(device)
    if key not in _cache:
        if not WEIGHTS.is_file():
            raise FileNotFoundError(f"{WEIGHTS} is missing: run `python scripts/train_mnist_classifier.py` to recreate it.")
        model = MNISTClassifier()
        model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
        _cache[key] = model.to(device, memory_format=torch.channels_last).eval()  # faster convolutions
    return _cache[key]


def _check_images(x: torch.Tensor, what: str = "samples") -> torch.Tensor:
    """Validate generated images: [N, 1, 28, 28] (or [N, 784]) with values in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}.")
    if x.dim() == 2 and x.shape[1] == 784:
        x = x.view(-1, 1, 28, 28)  # [N, 784] -> [N, 1, 28, 28]
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{what} must have shape [N, 1, 28, 28], got {list(x.shape)}.")
    if x.shape[0] < 2:
        raise ValueError(f"{what} needs at least 2 images, got {x.shape[0]}.")
    lo, hi = x.min().item(), x.max().item()
    if lo < -1e-3 or hi > 1 + 1e-3:
        hint = " They look like tanh outputs: map them with (x + 1) / 2." if lo >= -1 - 1e-3 and lo < 0 else ""
        raise ValueError(f"{what} must lie in [0, 1], found values in [{lo:.3f}, {hi:.3f}].{hint}")
    return x.float().clamp(0, 1)


@torch.no_grad()
def classify(x: torch.Tensor, device: torch.device | str | None = None, batch_size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (features [N, 128], probabilities [N, 10]) of images, in batches small enough for a CPU's cache."""
    x = _check_images(x)
    device = device or x.device
    model = load_classifier(device)
    feats, probs = [], []
    for start in range(0, x.shape[0], batch_size):
        batch = x[start : start + batch_size].to(device).contiguous(memory_format=torch.channels_last)
        f = model.features(batch)
        feats.append(f.cpu())
        probs.append(model.head(f).softmax(dim=1).cpu())
    return torch.cat(feats), torch.cat(probs)


def frechet_distance(f_real: torch.Tensor, f_fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets [n_real, n_features] and [n_fake, n_features]."""
    a, b = f_real.double().numpy(), f_fake.double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(A B) = sum of sqrt(eigenvalues of A B): real and >= 0 because A B is similar to A^1/2 B A^1/2
    eig = np.linalg.eigvals(cov_a @ cov_b).real.clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(eig).sum())


def fid_proxy(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID-proxy between two image sets, on the shipped classifier's features (lower is better)."""
    return frechet_distance(classify(real, "cpu" if real.device.type == "cpu" else real.device)[0], classify(fake)[0])


def class_coverage(probs: torch.Tensor) -> dict[str, object]:
    """Histogram of predicted digits and summaries from class probabilities [N, 10]."""
    counts = torch.bincount(probs.argmax(dim=1), minlength=10).double()
    hist = counts / counts.sum()
    nonzero = hist[hist > 0]
    kl = float((nonzero * (nonzero * 10).log()).sum())  # KL(hist || uniform) in nats
    return {
        "histogram": [round(float(h), 4) for h in hist],
        "digits_present": int((hist >= PRESENT_FRACTION).sum()),
        "min_fraction": float(hist.min()),
        "kl_to_uniform": kl,
        "confidence": float(probs.max(dim=1).values.mean()),
    }


def knn_radii(f: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each feature vector to its k-th nearest neighbour within the same set."""
    f = f.float()
    d = torch.cdist(f, f)  # [N, N]
    return d.kthvalue(k + 1, dim=1).values  # +1 skips the point itself


def _coverage_of(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048) -> float:
    """Fraction of points inside at least one ball (centre, radius)."""
    inside = []
    for start in range(0, points.shape[0], chunk):
        d = torch.cdist(points[start : start + chunk], centres)  # [chunk, n_centres]
        inside.append((d <= radii.unsqueeze(0)).any(dim=1))
    return float(torch.cat(inside).double().mean())


def precision_recall(f_real: torch.Tensor, f_fake: torch.Tensor, k: int = 3, real_radii: torch.Tensor | None = None) -> tuple[float, float]:
    """Improved precision and recall (k-NN manifolds) of real and fake feature sets [n, n_features]; real_radii: knn_radii(f_real, k)."""
    if min(f_real.shape[0], f_fake.shape[0]) <= k:
        raise ValueError(f"precision_recall needs more than k={k} real and fake samples.")
    if real_radii is None:
        real_radii = knn_radii(f_real, k)
    elif real_radii.shape != (f_real.shape[0],):
        raise ValueError(
            f"real_radii has shape {tuple(real_radii.shape)}, expected ({f_real.shape[0]},): "
            "compute it with knn_radii(f_real, k) from the same real features."
        )
    f_real, f_fake = f_real.float(), f_fake.float()
    precision = _coverage_of(f_fake, f_real, real_radii.to(f_real.device))
    recall = _coverage_of(f_real, f_fake, knn_radii(f_fake, k))
    return precision, recall


def evaluate_samples(fake: torch.Tensor, real: torch.Tensor, k: int = 3, max_n: int = 5000) -> dict[str, object]:
    """All sample metrics in one dict: fid_proxy, precision, recall and the class-coverage summaries."""
    fake = _check_images(fake, "fake samples")[:max_n]
    real = _check_images(real, "real images")[:max_n]
    f_fake, p_fake = classify(fake)
    f_real, _ = classify(real)
    precision, recall = precision_recall(f_real, f_fake, k)
    out: dict[str, object] = {"n": int(fake.shape[0]), "fid_proxy": frechet_distance(f_real, f_fake)}
    out.update({"precision": precision, "recall": recall})
    out.update(class_coverage(p_fake))
    return out


def format_metrics(m: dict[str, object]) -> str:
    """One readable line of the headline numbers from evaluate_samples."""
    return (
        f"FID-proxy {m['fid_proxy']:.2f} | precision {m['precision']:.3f} | recall {m['recall']:.3f} | "
        f"digits present {m['digits_present']}/10 (min {m['min_fraction']:.1%}) | "
        f"KL to uniform {m['kl_to_uniform']:.3f} | confidence {m['confidence']:.3f}"
    )
