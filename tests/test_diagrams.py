"""utils.diagrams: every diagram draws, renders, carries its key labels, and the plotted curves hold the right values."""

from __future__ import annotations

import importlib
import io
import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import ROOT  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from utils import diagrams  # noqa: E402

KEY_LABELS = {
    "gan_training_loop": [
        "Generator",
        "$G_\\theta$",
        "Discriminator",
        "$D_\\gamma$",
        "p_{\\mathrm{data}}",
        "\\log(1 - D(G(z)))",
        "$-\\log D(G(z))$",
    ],
    "vae_architecture": [
        "Encoder",
        "q_\\phi(z \\mid x)",
        "Decoder",
        "p_\\theta(x \\mid z)",
        "\\sigma \\odot \\varepsilon",
        "\\mathcal{N}(0, I)",
        "ELBO",
        "binary cross-entropy",
    ],
    "model_families": [
        "Autoregressive",
        "Normalising flows",
        "VAEs",
        "Boltzmann",
        "GANs",
        "Generative stochastic",
        "diffusion models",
        "Approximate density",
    ],
    "elbo_gap": ["\\log p(x)", "\\mathrm{ELBO}(q)", "\\mathrm{KL}(q(z)\\,\\|\\,p(z \\mid x))"],
    "js_vs_wasserstein": ["p_{\\mathrm{data}} = \\delta_0", "p_g = \\delta_\\theta", "\\mathrm{JS}", "W_1", "\\log 2"],
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty Text artist in the figure, legends and tick labels included."""
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def line(fig: Figure, label_part: str) -> Line2D:
    """The one line whose legend label contains label_part."""
    found = [ln for ax in fig.axes for ln in ax.get_lines() if label_part in str(ln.get_label())]
    assert len(found) == 1, [ln.get_label() for ln in found]
    return found[0]


def test_every_diagram_has_alt_text_and_key_labels():
    names = [draw.__name__ for draw in diagrams.DIAGRAMS]
    assert set(names) == set(diagrams.ALT_TEXT) == set(KEY_LABELS)
    for name in names:
        assert 40 < len(diagrams.ALT_TEXT[name]) < 600 and diagrams.ALT_TEXT[name].count(". ") <= 1, name


@pytest.mark.parametrize("name", list(KEY_LABELS))
def test_diagram_renders_with_its_labels(name):
    draw = getattr(diagrams, name)
    assert draw.__annotations__.get("return") in (Figure, "Figure") and draw.__doc__.count("\n") == 0
    fig = draw()
    assert isinstance(fig, Figure)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)  # mathtext errors surface only when drawn
    assert buffer.getvalue().startswith(b"\x89PNG")
    width, _ = fig.get_size_inches()
    assert 8 <= width <= 10
    all_text = "\n".join(t.get_text() for t in texts(fig))
    for label in KEY_LABELS[name]:
        assert label in all_text, f"{name} lacks {label!r}"
    small = [(t.get_text(), t.get_fontsize()) for t in texts(fig) if t.get_fontsize() < 10]
    assert not small, small


def test_text_stays_inside_the_figure():
    for fig in diagrams.draw_all().values():
        fig.canvas.draw()  # lay out legends and tight_layout as in the saved image
        renderer = fig.canvas.get_renderer()
        fig_box = fig.bbox
        ticks = {
            id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis) for tick in axis.get_major_ticks() for t in (tick.label1, tick.label2)
        }
        for t in (t for t in texts(fig) if id(t) not in ticks):  # tick labels off the axis range exist but are not drawn
            box = t.get_window_extent(renderer)
            assert fig_box.x0 - 1 <= box.x0 and box.x1 <= fig_box.x1 + 1, t.get_text()
            assert fig_box.y0 - 1 <= box.y0 and box.y1 <= fig_box.y1 + 1, t.get_text()


@pytest.mark.parametrize("name", ["gan_training_loop", "vae_architecture", "model_families"])
def test_box_labels_fit_inside_their_boxes(name):
    fig = getattr(diagrams, name)()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) >= 7
    for box in boxes:
        centre = (box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2)
        (label,) = [t for t in ax.texts if np.allclose(t.get_position(), centre)]
        outer, inner = box.get_window_extent(renderer), label.get_window_extent(renderer)
        outer = outer.padded(-0.05 * fig.dpi)  # at least 0.05 inch of margin all round
        assert outer.x0 < inner.x0 and inner.x1 < outer.x1 and outer.y0 < inner.y0 and inner.y1 < outer.y1, label.get_text()


def test_js_is_log_2_off_zero_and_wasserstein_is_abs_theta():
    fig = diagrams.js_vs_wasserstein()
    w = line(fig, "W_1")
    theta, w1 = (np.asarray(a, dtype=float) for a in w.get_data())
    assert theta.min() < 0 < theta.max() and np.any(theta == 0.0)
    np.testing.assert_allclose(w1, np.abs(theta), atol=1e-12)
    js_theta, js = (np.asarray(a, dtype=float) for a in line(fig, "\\mathrm{JS}(p").get_data())
    np.testing.assert_array_equal(js_theta, theta)
    shown = ~np.isnan(js)
    assert np.all(js_theta[shown] != 0.0) and np.all(js_theta[~shown] == 0.0)
    np.testing.assert_allclose(js[shown], math.log(2), atol=1e-12)
    at_zero = line(fig, "JS at")
    assert list(at_zero.get_xdata()) == [0.0] and list(at_zero.get_ydata()) == [0.0]


def test_elbo_curve_stays_below_log_px_and_touches_it_at_the_posterior():
    fig = diagrams.elbo_gap()
    mu, elbo = (np.asarray(a, dtype=float) for a in line(fig, "\\mathrm{ELBO}(q)").get_data())
    log_px = float(line(fig, "\\log p(x)").get_ydata()[0])
    zeta, sigma_x, x = 1.5, 0.8, 2.0  # lecture 3's linear-Gaussian model and observation
    assert log_px == pytest.approx(-0.5 * (math.log(2 * math.pi * (zeta**2 + sigma_x**2)) + x**2 / (zeta**2 + sigma_x**2)))
    v = sigma_x**2 / (zeta**2 + sigma_x**2)
    m = zeta * x / (zeta**2 + sigma_x**2)
    gap = log_px - elbo
    np.testing.assert_allclose(gap, (mu - m) ** 2 / (2 * v), atol=1e-9)  # KL(N(mu, v) || N(m, v))
    assert gap.min() >= -1e-12 and gap.min() < 1e-3
    shown = [t.get_text() for t in texts(fig)]
    assert any("N}(1.5\\,z, 0.8^2)" in t and "x = 2$" in t for t in shown), shown


def test_elbo_gap_follows_the_model_it_is_given():
    fig = diagrams.elbo_gap(zeta=1.0, sigma_x=1.0, x=1.5)
    log_px = float(line(fig, "\\log p(x)").get_ydata()[0])
    assert log_px == pytest.approx(-0.5 * (math.log(2 * math.pi * 2.0) + 1.5**2 / 2.0))


def test_diffusion_sits_with_the_approximate_likelihood_families():
    """Diffusion models are trained on a bound on log p(x), like VAEs: a leaf under 'Approximate density'."""
    fig = diagrams.model_families()
    ax = fig.axes[0]
    y = {t.get_text().split("\n")[0]: t.get_position()[1] for t in ax.texts}
    assert not any("Iterative" in label for label in y)
    siblings = ["Variational: VAEs", "Variational: diffusion models", "Markov chain: energy-based"]
    assert y["Approximate density"] == pytest.approx(np.mean([y[label] for label in siblings]))
    assert y["Likelihood-based"] == pytest.approx((y["Tractable density"] + y["Approximate density"]) / 2)


def test_importing_creates_no_figures():
    before = plt.get_fignums()
    importlib.reload(diagrams)
    assert plt.get_fignums() == before
    code = "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt, utils.diagrams; print(plt.get_fignums())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_main_saves_svg_and_png(tmp_path, capsys):
    diagrams.main([str(tmp_path)])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == sorted(f"{name}.{ext}" for name in KEY_LABELS for ext in ("png", "svg"))
    assert plt.get_fignums() == []
    with pytest.raises(SystemExit):
        diagrams.main([])


def test_every_diagram_is_shown_in_the_book_with_its_alt_text():
    """Each diagram appears in a source notebook, its code folded away on the website and its alt text set."""
    import json

    from helpers import SOURCE_NOTEBOOKS

    shown: dict[str, list[str]] = {}
    for path in SOURCE_NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] != "code" or "diagrams." not in src:
                continue
            for fn in diagrams.DIAGRAMS:
                if f"diagrams.{fn.__name__}()" in src:
                    shown.setdefault(fn.__name__, []).append(path.name)
                    assert "remove-input" in cell["metadata"].get("tags", []), f"{path.name}: fold the code of {fn.__name__}"
                    alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt")
                    assert alt == diagrams.ALT_TEXT[fn.__name__], f"{path.name}: set {fn.__name__}'s alt text from ALT_TEXT"
    missing = [fn.__name__ for fn in diagrams.DIAGRAMS if fn.__name__ not in shown]
    assert not missing, f"diagrams no page shows: {missing}"


# ---------------------------------------------------------------- timeline (lecture 1's short history)

KEY_LABELS["timeline"] = ["VAE", "GAN", "Transformer", "DDPM", "ChatGPT", "2013", "2022", "autoregressive", "diffusion"]


def milestone_texts(fig: Figure) -> dict[str, Text]:
    """The timeline's milestone labels, by text."""
    names = {label for _, label, _, _ in diagrams.MILESTONES}
    return {t.get_text(): t for t in texts(fig) if t.get_text() in names}


def test_timeline_renders_with_its_labels():
    test_diagram_renders_with_its_labels("timeline")  # the shared checks: a Figure, 8 to 10 inches wide, labels, font sizes


def test_timeline_places_each_milestone_at_its_year_in_its_familys_colour():
    years = [year for year, _, _, _ in diagrams.MILESTONES]
    assert years == sorted(years) and len(set(label for _, label, _, _ in diagrams.MILESTONES)) == len(years)
    fig = diagrams.timeline()
    found = milestone_texts(fig)
    assert len(found) == len(diagrams.MILESTONES)
    for year, label, family, level in diagrams.MILESTONES:
        x, y = found[label].get_position()
        assert (x, y) == (year, level), label
        edge = found[label].get_bbox_patch().get_edgecolor()
        assert np.allclose(edge[:3], matplotlib.colors.to_rgb(diagrams.TIMELINE_FAMILIES[family])), label


def test_timeline_labels_do_not_overlap():
    fig = diagrams.timeline()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = {name: t.get_bbox_patch().get_window_extent(renderer) for name, t in milestone_texts(fig).items()}
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not boxes[a].overlaps(boxes[b]), (a, b)
