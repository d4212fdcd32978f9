"""The cells of labs/solutions/02_vae_lab.ipynb marked `#| export`, with their solutions.

Made by `python scripts/assignments.py` from the lab: edit the lab, never this file.
"""

# ruff: noqa
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from utils import config

device = config.get_device()


DATASET = "mnist"  # or "fashion-mnist": the one switch for the data
N_TRAIN = config.pick(full=60_000, fast=20_000)  # training images
EPOCHS = config.pick(full=28, fast=3)  # passes over the training images, main model
EPOCHS_2D = config.pick(full=6, fast=2)  # the model with a 2-D latent space
# beta sweep (short runs)
SWEEP_TRAIN, SWEEP_EPOCHS = config.pick(full=(15_000, 3), fast=(5_000, 2))
# samples saved for lab 3 and judged by utils.metrics
N_SAMPLES = config.pick(full=5_000, fast=1_000)
# prior samples scored after every epoch of the main model: its quality curve
N_TRACK = config.pick(full=1_000, fast=300)
# the mixture fitted to the training codes after training: components, EM steps
K_MIX, EM_STEPS = 20, config.pick(full=50, fast=20)
HIDDEN, Z_DIM, BATCH_SIZE, LR = 512, 20, 128, 1e-3


class Encoder(nn.Module):
    """q(z|x): images [B, 1, 28, 28] -> (mu, logvar), each [B, z_dim]."""

    def __init__(self, x_dim: int = 784, hidden: int = 512, z_dim: int = 20):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),  # [B, 1, 28, 28] -> [B, 784]
            nn.Linear(x_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * z_dim),  # mu and logvar side by side
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)  # [B, 2 * z_dim] -> 2 x [B, z_dim]
        return mu, logvar


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """One sample of N(mu, diag(exp(logvar))), differentiable in mu and logvar:
    same shape as mu."""
    sigma = torch.exp(0.5 * logvar)
    eps = torch.randn_like(mu)
    return mu + sigma * eps


class Decoder(nn.Module):
    """p(x|z): latents [B, z_dim] -> Bernoulli logits [B, 1, 28, 28]."""

    def __init__(self, z_dim: int = 20, hidden: int = 512, x_dim: int = 784):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, x_dim),  # logits, no sigmoid
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)  # [B, 784] -> [B, 1, 28, 28]


class VAE(nn.Module):
    """Encoder + reparameterisation + decoder: x -> (x_logits, mu, logvar)."""

    def __init__(self, x_dim: int = 784, hidden: int = 512, z_dim: int = 20):
        super().__init__()
        self.z_dim = z_dim
        self.encoder = Encoder(x_dim, hidden, z_dim)
        self.decoder = Decoder(z_dim, hidden, x_dim)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x)
        z = reparameterise(mu, logvar)
        return self.decoder(z), mu, logvar


def vae_loss(
    x_logits: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, recon, kl), each summed per image and averaged over the batch
    loss = recon + beta * kl."""
    batch = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / batch
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
    return recon + beta * kl, recon, kl


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    beta: float = 1.0,
) -> tuple[float, float, float]:
    """One gradient step on a batch x
    returns (loss, recon, kl) of the batch before the step."""
    optimizer.zero_grad()
    x_logits, mu, logvar = model(x)
    loss, recon, kl = vae_loss(x_logits, x, mu, logvar, beta)
    loss.backward()
    optimizer.step()
    return loss.item(), recon.item(), kl.item()


from utils.data import iterate_batches


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, beta: float = 1.0, batch_size: int = 1000
) -> dict[str, float]:
    """Mean loss, recon and KL per image over all of x (one z sample per image)."""
    model.eval()
    totals = torch.zeros(3, device=x.device)
    for (xb,) in iterate_batches(x, batch_size=batch_size, shuffle=False):
        x_logits, mu, logvar = model(xb)
        totals += torch.stack(vae_loss(x_logits, xb, mu, logvar, beta)) * len(xb)
    model.train()
    loss, recon, kl = (totals / len(x)).tolist()
    return {"loss": loss, "recon": recon, "kl": kl}


def train_epoch(model, optimizer, x_tr, beta, batch_size, bar):
    """One pass over x_tr in shuffled batches: the mean training loss per image."""
    total = 0.0
    for (xb,) in iterate_batches(x_tr, batch_size=batch_size):
        loss, _, _ = train_step(model, optimizer, xb, beta)
        total += float(loss) * len(xb)
        bar.update()
    return total / len(x_tr)


from utils.data import num_batches
from utils.progress import progress


def train_vae(
    model,
    x_tr,
    epochs,
    beta=1.0,
    lr=LR,
    batch_size=BATCH_SIZE,
    x_te=None,
    desc="VAE",
    verbose=True,
    score_fn=None,
):
    """Adam with a cosine learning-rate schedule: per-epoch train (and test) losses,
    and score_fn(model)'s numbers after every epoch when given."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history = {"train": [], "test": [], "scores": []}
    bar = progress(total=epochs * num_batches(len(x_tr), batch_size), desc=desc)
    for epoch in range(epochs):
        history["train"].append(
            train_epoch(model, optimizer, x_tr, beta, batch_size, bar)
        )
        schedule.step()
        if x_te is not None:
            history["test"].append(evaluate(model, x_te, beta)["loss"])
        if score_fn is not None:
            history["scores"].append(score_fn(model))
        if verbose:
            test = f" | test {history['test'][-1]:7.2f}" if x_te is not None else ""
            print(
                f"epoch {epoch + 1:2d}/{epochs}: train "
                f"{history['train'][-1]:7.2f}{test}  (nats per image)"
            )
    bar.close()
    return history


from torch.distributions import (
    Categorical,
    MixtureSameFamily,
    MultivariateNormal,
)


def fit_mixture(codes, k=K_MIX, steps=EM_STEPS, seed=0):
    """EM for a mixture of k full-covariance Gaussians on codes [N, d]."""
    n, d = codes.shape
    first = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k]
    means = codes[first.to(codes.device)]  # [k, d]: k codes to start from
    covs = torch.cov(codes.T).expand(k, d, d).clone()  # [k, d, d]
    weights = torch.full((k,), 1 / k, device=codes.device)  # [k]
    jitter = 1e-4 * torch.eye(d, device=codes.device)
    for _ in range(steps):
        log_joint = (
            MultivariateNormal(means, covs).log_prob(codes[:, None]) + weights.log()
        )
        r = log_joint.softmax(dim=1)  # E step: [N, k] responsibilities
        n_k = r.sum(dim=0)  # [k]
        weights, means = n_k / n, (r.T @ codes) / n_k[:, None]  # M step
        diff = codes[:, None] - means  # [N, k, d]
        covs = (
            torch.einsum("nk,nki,nkj->kij", r, diff, diff) / n_k[:, None, None] + jitter
        )
    return MixtureSameFamily(Categorical(weights), MultivariateNormal(means, covs))


def widen(mixture: MixtureSameFamily, tau: float) -> MixtureSameFamily:
    """The same mixture with every component's spread scaled by tau."""
    components = mixture.component_distribution
    return MixtureSameFamily(
        mixture.mixture_distribution,
        MultivariateNormal(components.loc, tau**2 * components.covariance_matrix),
    )


from utils.metrics import evaluate_samples

WIDTHS = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)  # the widths tau tried


@torch.no_grad()
def score_widths(decoder, mixture, x_ref, widths=WIDTHS, seed=4):
    """{tau: utils.metrics scores of len(x_ref) samples of widen(mixture, tau)}."""
    scores = {}
    for tau in widths:
        torch.manual_seed(seed)  # the same noise for every width
        z_tau = widen(mixture, tau).sample((len(x_ref),))  # [N, Z_DIM]
        scores[tau] = evaluate_samples(torch.sigmoid(decoder(z_tau)), x_ref)
    return scores


def balanced_width(scores):
    """The width whose smaller score of precision and recall is the largest."""
    return max(scores, key=lambda t: min(scores[t]["precision"], scores[t]["recall"]))
