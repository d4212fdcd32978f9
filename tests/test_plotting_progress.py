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


def test_results_table_formats_each_row_and_shows_missing_values_as_a_dash():
    table = plotting.results_table(
        ["GAN", "VAE"],
        [("FID-proxy (lower)", [1.234, 20.0], ".2f", "0"), ("digits present", [10, None], "d", "10")],
    )
    assert table.splitlines() == [
        "| measure | GAN | VAE | real digits |",
        "|---|---:|---:|---:|",
        "| FID-proxy (lower) | 1.23 | 20.00 | 0 |",
        "| digits present | 10 | – | 10 |",
    ]
    assert plotting.results_table(["A"], [], reference="data").splitlines() == ["| measure | A | data |", "|---|---:|---:|"]


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([("recall", [0.5], ".3f", "")], "1 values for 2 columns"),
        ([("digits present", [9.5, 10], "d", "10")], "format 'd' cannot show"),
        ([("recall", ["high", 0.5], ".3f", "")], "cannot show"),
    ],
)
def test_results_table_names_the_row_it_cannot_build(rows, fragment):
    with pytest.raises(ValueError, match=fragment):
        plotting.results_table(["GAN", "VAE"], rows)


def test_progress_counts_and_shows_postfix():
    bar = progress(range(5), desc="t", disable=False)
    assert list(bar) == [0, 1, 2, 3, 4]
    bar = progress(total=3, desc="manual")
    bar.update(3)
    bar.set_postfix(loss=0.5)
    assert bar.n == 3
    bar.close()


def test_checks_record_their_latest_verdict_and_a_page_shows_passed_failed_and_not_run(tmp_path, monkeypatch, capsys):
    from utils import progress
    from utils.checks import entropy_cross_entropy_kl as checks

    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path))
    checks.check_entropy_bits(lambda p: torch.zeros(()))  # a wrong answer
    assert progress.recorded()["entropy_cross_entropy_kl"]["entropy_bits"]["passed"] is False
    capsys.readouterr()
    progress.show("entropy_cross_entropy_kl", ["entropy_bits", "kl_categorical"])
    out = capsys.readouterr().out
    assert "This page: 0 of 2 checks passed." in out
    assert "[FAIL] entropy_bits: failed" in out and "[ -- ] kl_categorical: not run yet" in out
    progress.record("entropy_cross_entropy_kl", "entropy_bits", True)
    progress.show("entropy_cross_entropy_kl", ["entropy_bits", "kl_categorical"])
    assert "This page: 1 of 2 checks passed." in capsys.readouterr().out
    assert (tmp_path / progress.PROGRESS_FILE).is_file(), "the record is not beside the artifacts"


def test_course_progress_lists_every_notebook_with_checks(tmp_path, monkeypatch, capsys):
    from utils import progress

    monkeypatch.setenv("GENAI_ARTIFACTS", str(tmp_path))
    progress.record("gan_lab", "generator", True)
    course = progress.course_status()
    names = [nb for nb, _, _ in course]
    assert "01_gan_lab" in names and "05_vaes" in names and len(names) == 8
    (gan,) = [status for nb, _, status in course if nb == "01_gan_lab"]
    assert ("generator", "passed") in gan and ("train_step", "not run yet") in gan
    assert progress.main() == 0
    out = capsys.readouterr().out
    total = sum(len(s) for _, _, s in course)
    assert f"course: 1 of {total} checks passed" in out


def test_an_unwritable_record_never_fails_a_check(tmp_path, monkeypatch):
    from utils import progress

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GENAI_ARTIFACTS", str(blocker))
    progress.record("gan_lab", "generator", True)  # no exception
    assert progress.recorded() == {}
