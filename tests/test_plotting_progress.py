"""utils.plotting and utils.progress."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import plotting  # noqa: E402
from utils.progress import progress  # noqa: E402


def test_make_grid_tiles_images():
    grid = plotting.make_grid(torch.ones(6, 1, 28, 28), nrow=3, pad=2)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2)
    assert grid[0, 0] == 1.0
    colour = plotting.make_grid(torch.zeros(4, 3, 8, 8), nrow=2)
    assert colour.shape == (22, 22, 3)
    with pytest.raises(ValueError, match="shape"):
        plotting.make_grid(torch.zeros(28, 28))


def test_show_grid_and_curves_draw_on_axes():
    ax = plotting.show_grid(torch.rand(16, 1, 28, 28), title="grid")
    assert ax.get_title() == "grid" and len(ax.images) == 1
    ax = plotting.plot_curves({"D": [1.0, 0.5, 0.2, 0.1], "G": [2.0, 1.0, 1.5, 1.2]}, smooth=2)
    assert [line.get_label() for line in ax.lines] == ["D", "G"]
    assert len(ax.lines[0].get_xdata()) == 3  # moving average of width 2
    plt.close("all")


def test_animate_grids_makes_playable_html():
    frames = [torch.rand(4, 1, 28, 28) for _ in range(3)]
    html = plotting.animate_grids(frames, titles=["a", "b", "c"]).data
    assert "<img" in html and html.count("data:image/png") >= 3
    with pytest.raises(ValueError):
        plotting.animate_grids([])


def test_progress_counts_and_shows_postfix():
    bar = progress(range(5), desc="t", disable=False)
    assert list(bar) == [0, 1, 2, 3, 4]
    bar = progress(total=3, desc="manual")
    bar.update(3)
    bar.set_postfix(loss=0.5)
    assert bar.n == 3
    bar.close()
