"""The book's explanatory diagrams, drawn with matplotlib: each function returns one Figure.

In a notebook: `fig = diagrams.gan_training_loop()` then `plt.show()`.
From a shell: `python -m utils.diagrams OUTDIR` saves every diagram as SVG and PNG.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path as FilePath

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.path import Path

GEN = "#0072B2"  # generator / decoder
DISC = "#D55E00"  # discriminator / encoder
DATA = "#6E6E6E"  # data, noise and other inputs
INK = "#222222"  # plain arrows and losses
CRITIC = "#009E73"  # the Wasserstein distance
BOX_TEXT, NOTE_TEXT = 11, 10  # font sizes in points
HIDDEN = ("top", "right")  # spines the plots leave out

ALT_TEXT: dict[str, str] = {
    "gan_training_loop": (
        "Flow chart of one GAN training step: noise z goes through the generator G_theta to a fake sample, which the "
        "discriminator D_gamma scores alongside a real sample from p_data. D is updated to maximise log D(x) + "
        "log(1 - D(G(z))), and G is updated to minimise -log D(G(z)), its gradient flowing back through D."
    ),
    "vae_architecture": (
        "Flow chart of a VAE: the encoder q_phi(z|x) maps x to a mean and log-variance, z = mu + sigma * epsilon is "
        "formed with noise epsilon from N(0, I) entering from the side, and the decoder p_theta(x|z) outputs "
        "reconstruction logits. The loss, the negative ELBO, is the binary cross-entropy reconstruction term plus "
        "KL(q_phi(z|x) || N(0, I))."
    ),
    "model_families": (
        "Tree of generative model families: likelihood-based models with a tractable density (autoregressive models, "
        "normalising flows) or an approximate one (VAEs, diffusion models, energy-based models and Boltzmann "
        "machines); implicit models (GANs, generative stochastic networks)."
    ),
    "elbo_gap": (
        "Left, stacked bars: log p(x) is a fixed level made of the ELBO plus the KL gap, and the gap shrinks as q "
        "approaches the posterior. Right, for the 1-D linear-Gaussian model z ~ N(0, 1), x | z ~ N(zeta z, sigma_x^2), the "
        "ELBO as a function of the mean of q stays below the constant log p(x) and touches it where q equals the exact "
        "posterior."
    ),
    "js_vs_wasserstein": (
        "Left: two point masses, p_data at 0 and p_g at theta, with disjoint supports. Right: against theta, the "
        "Jensen-Shannon divergence is flat at log 2 except for 0 at theta = 0, giving no gradient, while the "
        "Wasserstein distance |theta| grows steadily with the distance."
    ),
}


def _tint(colour: str, amount: float = 0.85) -> tuple[float, ...]:
    """The colour mixed with white: amount 0 keeps it, 1 gives white."""
    return tuple(c + (1.0 - c) * amount for c in to_rgb(colour))


def _canvas(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure whose single, invisible axes measures inches: (0, 0) is the bottom-left corner."""
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(0, 0, 1, 1)
    ax.set(xlim=(0, width), ylim=(0, height), aspect="equal")
    ax.set_axis_off()
    return fig, ax


def _box(ax: Axes, x: float, y: float, text: str, colour: str = INK, w: float = 1.6, h: float = 0.8, **kw) -> FancyBboxPatch:
    """A rounded box centred at (x, y) holding text, outlined in colour and filled with a tint of it (or with fill=)."""
    fill = kw.pop("fill", _tint(colour))
    box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.12", fc=fill, ec=colour, lw=1.6, **kw)
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=BOX_TEXT, color=INK)
    return box


def _centre(box: FancyBboxPatch) -> tuple[float, float]:
    """The centre of a box drawn by _box."""
    return box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2


_End = tuple[float, float] | FancyBboxPatch


def _arrow(ax: Axes, start: _End, end: _End, colour: str = INK, dashed: bool = False, via: list | None = None) -> None:
    """An arrow between points or boxes (stopping at a box's edge), or a straight polyline through the via points."""
    a, b = (_centre(p) if isinstance(p, FancyBboxPatch) else p for p in (start, end))
    style = {"arrowstyle": "-|>", "mutation_scale": 16, "color": colour, "lw": 2.0 if dashed else 1.6}
    style["linestyle"] = (0, (4, 3)) if dashed else "-"
    if via:
        ax.add_patch(FancyArrowPatch(path=Path([a, *via, b]), **style))
        return
    patches = {k: p for k, p in (("patchA", start), ("patchB", end)) if isinstance(p, FancyBboxPatch)}
    ax.add_patch(FancyArrowPatch(a, b, shrinkA=3, shrinkB=3, **patches, **style))


def _note(ax: Axes, x: float, y: float, text: str, colour: str = INK, **kw) -> None:
    """A small label in colour, left-aligned unless told otherwise."""
    ax.text(x, y, text, **{"va": "center", "fontsize": NOTE_TEXT, "color": colour, **kw})


def gan_training_loop() -> Figure:
    """One GAN training step: the data flow through G and D, the two losses and the two gradient updates."""
    fig, ax = _canvas(10, 5.8)
    noise = _box(ax, 0.75, 2.1, "noise\n$z \\sim p(z)$", DATA, w=1.25, h=0.95)
    gen = _box(ax, 2.7, 2.1, "Generator\n$G_\\theta$", GEN, w=1.45, h=0.95)
    fake = _box(ax, 4.7, 2.1, "fake sample\n$\\hat{x} = G_\\theta(z)$", GEN, w=1.75, h=0.95, fill="white")
    real = _box(ax, 4.7, 4.3, "real sample\n$x \\sim p_{\\mathrm{data}}$", DATA, w=1.75, h=0.95)
    disc = _box(ax, 6.85, 3.2, "Discriminator\n$D_\\gamma$", DISC, w=1.6, h=0.95)
    out = _box(ax, 8.9, 3.2, "$D_\\gamma(\\cdot) \\in [0, 1]$:\nprobability real", DISC, w=1.85, h=0.95, fill="white")
    _box(ax, 7.85, 5.3, "$D$ maximises  $\\log D(x) + \\log(1 - D(G(z)))$", DISC, w=3.9, h=0.6, fill="white")
    _box(ax, 8.05, 0.55, "$G$ minimises  $-\\log D(G(z))$\n(non-saturating loss)", GEN, w=3.3, h=0.85, fill="white")
    for start, end in [(noise, gen), (gen, fake), (fake, disc), (real, disc), (disc, out)]:
        _arrow(ax, start, end)
    _arrow(ax, (8.9, 3.68), (8.9, 5.0))  # D's output feeds both losses
    _arrow(ax, (8.9, 2.72), (8.9, 0.98))
    # The updates: D's gradient reaches gamma only; G's goes back through D (its weights held fixed) to theta.
    _arrow(ax, (6.5, 5.0), (6.5, 3.68), DISC, dashed=True)
    _note(ax, 6.62, 4.35, "update $D$: $\\nabla_\\gamma$", DISC)
    _arrow(ax, (7.15, 0.98), (7.15, 2.72), GEN, dashed=True)
    _arrow(ax, (6.55, 2.72), (2.7, 1.62), GEN, dashed=True, via=[(6.55, 1.15), (2.7, 1.15)])
    _note(ax, 4.3, 0.75, "update $G$: $\\nabla_\\theta$ flows back\nthrough $D_\\gamma$ (held fixed)", GEN, ha="center")
    return fig


def vae_architecture() -> Figure:
    """A VAE: encoder, reparameterisation with side noise, decoder, and the two terms of the negative ELBO."""
    fig, ax = _canvas(10, 4.8)
    y, widths, gap = 3.3, [0.55, 1.45, 1.0, 1.95, 1.45, 1.55], 0.37
    xs = 0.1 + np.cumsum([0.0, *widths[:-1]]) + np.array(widths) / 2 + gap * np.arange(len(widths))
    x = _box(ax, xs[0], y, "$x$", DATA, w=widths[0], h=0.95)
    enc = _box(ax, xs[1], y, "Encoder\n$q_\\phi(z \\mid x)$", DISC, w=widths[1], h=0.95)
    stats = _box(ax, xs[2], y, "$\\mu$\n$\\log \\sigma^2$", DISC, w=widths[2], h=0.95, fill="white")
    rep = _box(ax, xs[3], y, "reparameterise\n$z = \\mu + \\sigma \\odot \\varepsilon$", INK, w=widths[3], h=0.95, fill="white")
    dec = _box(ax, xs[4], y, "Decoder\n$p_\\theta(x \\mid z)$", GEN, w=widths[4], h=0.95)
    logits = _box(ax, xs[5], y, "reconstruction\nlogits", GEN, w=widths[5], h=0.95, fill="white")
    eps = _box(ax, xs[3], 1.85, "$\\varepsilon \\sim \\mathcal{N}(0, I)$", DATA, w=1.7, h=0.6, ls="--")
    _note(ax, xs[3] + 0.95, 1.85, "sampled outside the network:\nno gradient needs to pass\nthrough the sampling", DATA)
    _arrow(ax, (xs[5], 4.1), (xs[1], 4.1), INK, dashed=True)
    backprop = "backpropagation: gradients reach $\\mu$ and $\\sigma$ through $z$, not through $\\varepsilon$"
    _note(ax, (xs[1] + xs[5]) / 2, 4.25, backprop, ha="center", va="bottom")
    kl_text = "KL term\n$\\mathrm{KL}(q_\\phi(z \\mid x)\\,\\|\\,\\mathcal{N}(0, I))$"
    kl = _box(ax, 1.6, 0.55, kl_text, DISC, w=2.9, h=0.9, fill="white")
    total = _box(ax, 5.0, 0.55, "loss $= -\\mathrm{ELBO}$\n= KL + reconstruction", INK, w=2.3, h=0.9, fill="white")
    recon_text = "reconstruction term\n$-\\log p_\\theta(x \\mid z)$\n(binary cross-entropy vs. $x$)"
    recon = _box(ax, 8.3, 0.55, recon_text, GEN, w=2.9, h=1.05, fill="white")
    for start, end in [(x, enc), (enc, stats), (stats, rep), (rep, dec), (dec, logits), (stats, kl), (logits, recon)]:
        _arrow(ax, start, end)
    for start, end in [(kl, total), (recon, total)]:
        _arrow(ax, start, end)
    _arrow(ax, eps, rep, DATA)
    return fig


_Node = str | tuple[str, list]


def model_families() -> Figure:
    """The course's taxonomy of generative models, by how each family defines (or avoids) the density."""
    fig, ax = _canvas(10, 6.4)
    approximate = [  # trained on a bound on log p(x): the ELBO (VAEs, diffusion) or MCMC estimates of its gradient
        "Variational: VAEs",
        "Variational: diffusion models\n(denoising, step by step)",
        "Markov chain: energy-based\nmodels, Boltzmann machines",
    ]
    explicit = [
        ("Tractable density", ["Autoregressive models\n(GPT, PixelCNN, WaveNet)", "Normalising flows"]),
        ("Approximate density", approximate),
    ]
    implicit = [("Direct", ["GANs"]), ("Markov chain", ["Generative stochastic\nnetworks"])]
    families = [("Likelihood-based\n(explicit density)", explicit), ("Implicit density\n(no explicit $p(x)$)", implicit)]
    columns = [(0.75, 1.3), (2.85, 2.1), (5.2, 1.9), (8.15, 3.2)]  # (centre, width) per depth; leaves in the last
    highlight = {"Variational: VAEs": DISC, "GANs": GEN}
    leaf_ys = iter(np.linspace(5.95, 0.5, 7))

    def draw(node: _Node, depth: int) -> FancyBboxPatch:
        """Draw a node and its subtree, leaves spaced evenly and each parent level with the middle of its children."""
        label, children = node if isinstance(node, tuple) else (node, [])
        kids = [draw(child, depth + 1) for child in children]
        x, w = columns[depth if children else -1]
        y = float(np.mean([_centre(k)[1] for k in kids])) if kids else next(leaf_ys)
        colour = highlight.get(label, DATA)
        fill = _tint(colour, 0.8 if label in highlight else 0.9)
        box = _box(ax, x, y, label, colour, w=w, h=0.7 if "\n" in label else 0.48, fill=fill)
        for kid in kids:  # elbow connector: right from the parent, up or down, right into the child
            mid, ky = x + w / 2 + 0.2, _centre(kid)[1]
            ax.plot([x + w / 2, mid, mid, kid.get_x()], [y, y, ky, ky], color=DATA, lw=1.4)
        return box

    draw(("Generative\nmodels", families), 0)
    legend = [Patch(fc=_tint(c, 0.8), ec=c, label=f"built in the {name} lab") for name, c in [("VAE", DISC), ("GAN", GEN)]]
    ax.legend(handles=legend, loc="upper left", fontsize=NOTE_TEXT, frameon=False)
    return fig


def _linear_gaussian_elbo(mu: np.ndarray, zeta: float, sigma_x: float, x: float) -> tuple[np.ndarray, float, float, float]:
    """(ELBO of q = N(mu, v), log p(x), posterior mean, posterior variance v) for z ~ N(0, 1), x | z ~ N(zeta z, sigma_x^2)."""
    v = sigma_x**2 / (zeta**2 + sigma_x**2)
    m = zeta * x / (zeta**2 + sigma_x**2)
    log_px = -0.5 * (math.log(2 * math.pi * (zeta**2 + sigma_x**2)) + x**2 / (zeta**2 + sigma_x**2))
    expected_loglik = -0.5 * math.log(2 * math.pi * sigma_x**2) - ((x - zeta * mu) ** 2 + zeta**2 * v) / (2 * sigma_x**2)
    expected_logprior = -0.5 * math.log(2 * math.pi) - (mu**2 + v) / 2
    entropy = 0.5 * math.log(2 * math.pi * math.e * v)
    return expected_loglik + expected_logprior + entropy, log_px, m, v


def elbo_gap(zeta: float = 1.5, sigma_x: float = 0.8, x: float = 2.0) -> Figure:
    """log p(x) = ELBO(q) + KL(q || posterior): as stacked bars, and as the ELBO curve of lecture 3's linear-Gaussian model."""
    fig, (bars, curve) = plt.subplots(1, 2, figsize=(10, 4.4), width_ratios=[1, 1.45])
    level, xs = 10.0, [0.0, 1.7]
    labels = ["$\\mathrm{KL}(q(z)\\,\\|\\,p(z \\mid x))$\n$\\geq 0$: the gap", "KL"]
    for xb, elbo, kl_label in zip(xs, [5.0, 8.6], labels, strict=True):
        bars.bar(xb, elbo, 0.6, color=_tint(GEN, 0.7), ec=GEN, lw=1.5)
        bars.bar(xb, level - elbo, 0.6, bottom=elbo, color=_tint(DISC, 0.82), ec=DISC, lw=1.5)
        bars.text(xb, elbo / 2, "$\\mathrm{ELBO}(q)$", ha="center", va="center", fontsize=BOX_TEXT)
        bars.annotate(
            "", (xb + 0.38, level), (xb + 0.38, elbo), arrowprops={"arrowstyle": "<|-|>", "color": DISC, "shrinkA": 0, "shrinkB": 0}
        )
        _note(bars, xb + 0.45, (level + elbo) / 2, kl_label, DISC)
    bars.axhline(level, color=INK, ls="--", lw=1.5)
    _note(bars, 0.85, level + 0.45, "$\\log p(x)$: fixed, does not depend on $q$", ha="center")
    bars.set(xlim=(-0.45, 2.45), ylim=(0, level + 1.2), xticks=xs, yticks=[])
    bars.set_xticklabels(["$q$ far from\n$p(z \\mid x)$", "$q$ close to\n$p(z \\mid x)$"], fontsize=NOTE_TEXT)
    bars.spines[[*HIDDEN, "left"]].set_visible(False)

    centre = zeta * x / (zeta**2 + sigma_x**2)  # the posterior mean: the curve spans 1.5 either side of it
    elbo, log_px, m, v = _linear_gaussian_elbo(mu := centre + np.linspace(-1.5, 1.5, 301), zeta, sigma_x, x)
    curve.axhline(log_px, color=INK, ls="--", lw=1.5, label="$\\log p(x)$ (exact)")
    curve.plot(mu, elbo, color=GEN, lw=2.2, label="$\\mathrm{ELBO}(q)$")
    curve.fill_between(mu, elbo, log_px, color=_tint(DISC, 0.85), label="gap $= \\mathrm{KL}(q\\,\\|\\,p(z \\mid x))$")
    curve.plot([m], [log_px], "o", color=INK, ms=6)
    touch = {"va": "center", "fontsize": NOTE_TEXT, "arrowprops": {"arrowstyle": "-|>"}}
    curve.annotate("$q = p(z \\mid x)$: gap $= 0$", (m, log_px), (m + 0.45, log_px + 0.35), **touch)
    curve.set_xlabel(f"mean $\\mu$ of $q(z) = \\mathcal{{N}}(\\mu, {v:.3f})$ (variance fixed at the posterior's)", fontsize=NOTE_TEXT)
    curve.set_ylabel("nats", fontsize=NOTE_TEXT)
    model = f"$z \\sim \\mathcal{{N}}(0, 1)$,  $x \\mid z \\sim \\mathcal{{N}}({zeta:g}\\,z, {sigma_x:g}^2)$,  observed $x = {x:g}$"
    curve.set_title(model, fontsize=BOX_TEXT)
    curve.set_ylim(elbo.min() - 0.2, log_px + 0.7)
    curve.legend(loc="lower center", fontsize=NOTE_TEXT, frameon=False)
    curve.spines[list(HIDDEN)].set_visible(False)
    fig.suptitle("$\\log p(x) = \\mathrm{ELBO}(q) + \\mathrm{KL}(q(z)\\,\\|\\,p(z \\mid x))$", fontsize=13)
    fig.tight_layout()
    return fig


def _js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence, in nats, of two probability vectors on the same support."""
    m = (p + q) / 2
    return sum(0.5 * float(np.sum(a[a > 0] * np.log(a[a > 0] / m[a > 0]))) for a in (p, q))


def _point_mass_distances(theta: float) -> tuple[float, float]:
    """(JS, W1) between delta_0 and delta_theta, computed on the union of their supports."""
    support = np.unique([0.0, theta])
    p, q = (np.isclose(support, a).astype(float) for a in (0.0, theta))
    w1 = float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))[:-1] * np.diff(support)))  # the integral of |F_p - F_q|
    return _js_divergence(p, q), w1


def js_vs_wasserstein() -> Figure:
    """Disjoint point masses: JS is flat at log 2 (no gradient) while W1 = |theta| grows with the distance."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.0), width_ratios=[1, 1.25])
    theta0 = 1.5
    for where, colour, label in [(0.0, DATA, "$p_{\\mathrm{data}} = \\delta_0$"), (theta0, GEN, "$p_g = \\delta_\\theta$")]:
        left.vlines([where], 0, 1, color=colour, lw=3)
        left.plot([where], [1], "o", color=colour, ms=8)
        left.text(where, 1.08, label, ha="center", fontsize=BOX_TEXT, color=colour)
    left.annotate("", (theta0, 0.45), (0.0, 0.45), arrowprops={"arrowstyle": "<|-|>", "color": INK})
    _note(left, theta0 / 2, 0.55, "distance $|\\theta|$", ha="center")
    left.set(xlim=(-1.0, 2.5), ylim=(0, 1.3), yticks=[0, 1], xticks=[0, theta0])
    left.set_xticklabels(["0", "$\\theta$"], fontsize=NOTE_TEXT)
    left.set_ylabel("probability mass", fontsize=NOTE_TEXT)
    left.set_title("disjoint supports (here $\\theta = 1.5$)", fontsize=BOX_TEXT)

    thetas = np.linspace(-2.0, 2.0, 401)  # includes 0 exactly
    js, w1 = np.array([_point_mass_distances(t) for t in thetas]).T
    off = ~np.isclose(thetas, 0.0)
    right.plot(thetas, w1, color=CRITIC, lw=2.2, label="$W_1(p_{\\mathrm{data}}, p_g) = |\\theta|$")
    right.plot(thetas, np.where(off, js, np.nan), color=DISC, lw=2.2, label="$\\mathrm{JS}(p_{\\mathrm{data}}\\,\\|\\,p_g)$")
    right.plot(thetas[~off], js[~off], "o", color=DISC, ms=6, label="JS at $\\theta = 0$")
    right.plot([0.0], [math.log(2)], "o", mfc="white", mec=DISC, ms=6)  # the hole in the flat line
    _note(right, 0.85, math.log(2) - 0.08, "$\\log 2$ for every $\\theta \\neq 0$:\nflat, no gradient", DISC, va="top")
    _note(right, 0.0, 1.3, "slope $\\pm 1$ everywhere:\npoints $p_g$ towards $p_{\\mathrm{data}}$", CRITIC, ha="center")
    right.set(xlim=(-2.05, 2.05), ylim=(-0.05, 2.1))
    right.set_xlabel("$\\theta$", fontsize=BOX_TEXT)
    right.set_ylabel("distance (nats for JS)", fontsize=NOTE_TEXT)
    right.set_title("computed against $\\theta$", fontsize=BOX_TEXT)
    right.legend(loc="upper center", fontsize=NOTE_TEXT, frameon=False)
    for ax in (left, right):
        ax.spines[list(HIDDEN)].set_visible(False)
    fig.tight_layout()
    return fig


DIAGRAMS = (gan_training_loop, vae_architecture, model_families, elbo_gap, js_vs_wasserstein)


def draw_all() -> dict[str, Figure]:
    """Every diagram, by function name (the caller closes them)."""
    return {draw.__name__: draw() for draw in DIAGRAMS}


def main(argv: list[str]) -> None:
    """Save every diagram as SVG and PNG into the folder given as the only argument."""
    if len(argv) != 1:
        raise SystemExit("usage: python -m utils.diagrams OUTDIR")
    out = FilePath(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in draw_all().items():
        for ext in ("svg", "png"):
            fig.savefig(out / f"{name}.{ext}", dpi=150, bbox_inches="tight")
        plt.close(fig)
        print(out / f"{name}.png")


AUTOREG = "#CC79A7"  # autoregressive models and Transformers, in the timeline
TIMELINE_FAMILIES = {"latent variable": DISC, "adversarial": GEN, "diffusion": CRITIC, "autoregressive": AUTOREG}
# (year, milestone, family, level): the level places the label above (+) or below (-) the axis, clear of its neighbours
MILESTONES = (
    (2013, "VAE", "latent variable", 1.0),
    (2014, "GAN", "adversarial", -1.0),
    (2015, "diffusion\nmodels", "diffusion", 1.0),
    (2016, "PixelCNN,\nWaveNet", "autoregressive", -1.0),
    (2017, "Transformer", "autoregressive", 1.0),
    (2019, "StyleGAN,\nBigGAN", "adversarial", -1.0),
    (2019, "GPT-2", "autoregressive", 1.0),
    (2020, "DDPM", "diffusion", 1.9),
    (2020, "GPT-3", "autoregressive", -1.9),
    (2021, "DALL-E", "autoregressive", 1.0),
    (2022, "Stable\nDiffusion", "diffusion", -1.0),
    (2022, "ChatGPT", "autoregressive", 1.9),
)
ALT_TEXT["timeline"] = (
    "Timeline of deep generative models from 2013 to 2022, coloured by family: VAE (2013), GAN (2014), diffusion models "
    "(2015), PixelCNN and WaveNet (2016), the Transformer (2017), StyleGAN, BigGAN and GPT-2 (2019), DDPM and GPT-3 (2020), "
    "DALL-E (2021), Stable Diffusion and ChatGPT (2022)."
)


def timeline() -> Figure:
    """Milestones of deep generative models by year, each coloured by its family."""
    fig, ax = plt.subplots(figsize=(9.5, 4.4))
    first, last = MILESTONES[0][0], MILESTONES[-1][0]
    ax.annotate("", xy=(last + 0.7, 0), xytext=(first - 0.7, 0), arrowprops={"arrowstyle": "-|>", "color": INK, "lw": 1.6})
    for year in range(first, last + 1):
        ax.plot([year], [0], "o", color=INK, ms=4)
        ax.text(year, -0.18 if year % 2 else 0.18, str(year), ha="center", va="top" if year % 2 else "bottom", fontsize=NOTE_TEXT)
    for year, label, family, level in MILESTONES:
        colour = TIMELINE_FAMILIES[family]
        ax.plot([year, year], [0.45 * np.sign(level), level], color=colour, lw=1.4)
        ax.text(
            year,
            level,
            label,
            ha="center",
            va="bottom" if level > 0 else "top",
            fontsize=BOX_TEXT,
            color=INK,
            bbox={"boxstyle": "round,pad=0.25", "fc": _tint(colour, 0.8), "ec": colour},
        )
    handles = [Patch(fc=_tint(c, 0.8), ec=c, label=name) for name, c in TIMELINE_FAMILIES.items()]
    ax.legend(handles=handles, loc="lower right", ncol=2, fontsize=NOTE_TEXT, frameon=False)
    ax.set(xlim=(first - 1.2, last + 1.2), ylim=(-3.3, 3.1))
    ax.set_axis_off()
    fig.tight_layout()
    return fig


DIAGRAMS = (*DIAGRAMS, timeline)


if __name__ == "__main__":
    main(sys.argv[1:])
