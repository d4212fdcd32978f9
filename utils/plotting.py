"""Figures and tables every notebook reuses: image grids, loss curves, grid animations and results tables."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import torch


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> torch.Tensor:
    """Tile images [N, C, H, W] (or [N, H, W]) into one [H', W'] (or [H', W', C]) array in [0, 1]."""
    x = images.detach().float().cpu()
    if x.dim() == 3:
        x = x.unsqueeze(1)  # [N, H, W] -> [N, 1, H, W]
    if x.dim() != 4:
        raise ValueError(f"images must have shape [N, C, H, W] or [N, H, W], got {list(images.shape)}.")
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol_rows = math.ceil(n / nrow)
    grid = torch.ones(c, ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    grid = grid.clamp(0, 1)
    return grid[0] if c == 1 else grid.permute(1, 2, 0)  # [C, H', W'] -> [H', W', C]


def show_grid(
    images: torch.Tensor, nrow: int | None = None, title: str | None = None, ax: plt.Axes | None = None, size: float = 4.0
) -> plt.Axes:
    """Show a batch of images in [0, 1] as one grid, with an optional title."""
    if ax is None:
        _, ax = plt.subplots(figsize=(size, size))
    ax.imshow(make_grid(images, nrow).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    title: str = "Training curves",
    xlabel: str = "step",
    ylabel: str = "loss",
    ax: plt.Axes | None = None,
    smooth: int = 1,
) -> plt.Axes:
    """Plot named curves (e.g. {'D loss': [...], 'G loss': [...]}) with a moving average of width smooth."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        v = torch.as_tensor(list(values), dtype=torch.float64)
        if smooth > 1 and len(v) >= smooth:
            v = v.unfold(0, smooth, 1).mean(1)  # [T] -> [T - smooth + 1]
        ax.plot(v.numpy(), label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend()
    return ax


def animate_grids(frames: Sequence[torch.Tensor], titles: Sequence[str] | None = None, interval_ms: int = 400, size: float = 4.0):
    """Turn a list of image batches into an HTML animation that plays in the book, JupyterLab and Colab."""
    from IPython.display import HTML
    from matplotlib import animation

    if not frames:
        raise ValueError("animate_grids needs at least one frame.")
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(make_grid(frames[0]).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()

    def draw(i: int):
        image.set_data(make_grid(frames[i]).numpy())
        if titles:
            ax.set_title(titles[i])
        return (image,)

    anim = animation.FuncAnimation(fig, draw, frames=len(frames), interval=interval_ms, blit=False)
    html = anim.to_jshtml(default_mode="once")
    plt.close(fig)
    return HTML(html)


TableRow = tuple[str, Sequence[Any], str, str]  # (measure, one value per column, format spec, reference text)


def results_table(columns: Sequence[str], rows: Sequence[TableRow], reference: str = "real digits") -> str:
    """A Markdown table: a measure column, one column per model, then the reference; a value None shows as a dash."""
    lines = [f"| measure | {' | '.join(columns)} | {reference} |", "|---|" + "---:|" * (len(columns) + 1)]
    for measure, values, spec, ref in rows:
        if len(values) != len(columns):
            raise ValueError(f"the row {measure!r} has {len(values)} values for {len(columns)} columns ({', '.join(columns)}).")
        try:
            cells = ["–" if v is None else format(v, spec) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"the row {measure!r} has values {list(values)} that the format {spec!r} cannot show.") from None
        lines.append(f"| {measure} | {' | '.join(cells)} | {ref} |")
    return "\n".join(lines)
