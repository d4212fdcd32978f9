"""benchmarks/time_notebooks.py: its section of benchmarks/README.md is updated in place, others are kept."""

from __future__ import annotations

import sys

from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import time_notebooks as tn  # noqa: E402

FIRST = "lectures/00_getting_started.ipynb"
OTHERS = "# Benchmarks\n\nIntro.\n\n## Sampling speed\n\n| model | ms |\n|---|---|\n| GAN | 3 |\n"
LATER = "## Data loading\n\nLoading MNIST takes 1 s.\n"


def test_first_run_appends_the_section_and_keeps_the_others(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(OTHERS + "\n" + LATER)
    tn.update_readme(readme, [tn.Timing(FIRST, 12.34)], "fast, CPU", "`cmd` on today; 2 CPUs.")
    text = readme.read_text()
    assert text.startswith(OTHERS) and text.endswith(tn.render_section(*tn.parse_section(tn.split_section(text)[1])))
    assert LATER in text
    assert f"| `{FIRST}` | 12.3 | — | — | — |" in text
    assert "- **fast, CPU:** `cmd` on today; 2 CPUs." in text and "- **full, GPU:** not measured yet." in text
    n = len(tn.default_notebooks())
    assert ("| **total** | **12.3** |" if n == 1 else f"| **total** | **12.3** (1 of {n} notebooks) |") in text


def test_a_second_run_updates_its_column_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(OTHERS)
    tn.update_readme(readme, [tn.Timing(FIRST, 10.0)], "fast, CPU", "fast note")
    readme.write_text(readme.read_text() + "\n" + LATER)  # another author adds a section after ours
    tn.update_readme(readme, [tn.Timing(FIRST, 99.0, error="boom")], "full, CPU", "full note")
    tn.update_readme(readme, [tn.Timing(FIRST, 3.0)], "fast, GPU", "gpu note")
    text = readme.read_text()
    assert f"| `{FIRST}` | 10.0 | failed after 99.0 | 3.0 | — |" in text
    assert "- **fast, CPU:** fast note" in text and "- **full, CPU:** full note" in text and "- **fast, GPU:** gpu note" in text
    assert text.startswith(OTHERS) and text.rstrip().endswith(LATER.rstrip())
    assert text.count(tn.HEADING) == 1


def test_missing_readme_is_created(tmp_path):
    readme = tmp_path / "README.md"
    tn.update_readme(readme, [tn.Timing(FIRST, 1.0)], "fast", "note")
    assert readme.read_text().startswith("# Benchmarks\n") and tn.HEADING in readme.read_text()


def test_a_run_on_a_gpu_fills_the_gpu_columns():
    assert tn.column("fast", "cpu") == "fast, CPU"
    assert tn.column("full", "cuda") == tn.column("full", "mps") == "full, GPU"


def test_an_older_cpu_only_table_is_read_into_the_cpu_columns(tmp_path):
    readme = tmp_path / "README.md"
    old = f"{tn.HEADING}\n\n| notebook | fast mode (s) | full mode (s) |\n|---|---:|---:|\n| `{FIRST}` | 5.2 | 6.0 |\n\n"
    readme.write_text("# Benchmarks\n\n" + old + "- **fast mode:** old fast note\n- **full mode:** old full note\n")
    tn.update_readme(readme, [tn.Timing(FIRST, 2.5)], "full, GPU", "gpu note")
    text = readme.read_text()
    assert f"| `{FIRST}` | 5.2 | 6.0 | — | 2.5 |" in text
    assert "- **fast, CPU:** old fast note" in text and "- **full, CPU:** old full note" in text
    assert "fast mode (s)" not in text
