"""Numbers the labs state in prose agree with the constants their checks enforce."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT, read_notebook

from utils.checks import gan_lab, vae_lab

# "**budget:** at most 1.5 million parameters", as the labs' exercise contracts state it
BUDGET = re.compile(r"\*\*budget:\*\*\s+at most\s+([\d.,_]+)\s*(million|thousand)?\s+parameters", re.IGNORECASE)
SCALE = {None: 1, "thousand": 1_000, "million": 1_000_000}

LABS = [
    ("01_gan_lab", "GENERATOR_BUDGET", gan_lab.GENERATOR_BUDGET),
    ("02_vae_lab", "DECODER_BUDGET", vae_lab.DECODER_BUDGET),
]


def stated_budgets(text: str) -> list[int]:
    """Every parameter budget written in the text, as a count of parameters."""
    found = []
    for number, scale in BUDGET.findall(text):
        value = float(number.replace(",", "").replace("_", "")) * SCALE[scale.lower() if scale else None]
        found.append(round(value))
    return found


def markdown(path) -> str:
    """All Markdown cells of a notebook, joined."""
    cells = read_notebook(path)["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- **budget:** at most 1.5 million parameters for `Generator()`", [1_500_000]),
        ("- **budget:** at most 2 million parameters at the lab's size", [2_000_000]),
        ("- **budget:** at most 800 thousand parameters", [800_000]),
        ("- **budget:** at most 1,200,000 parameters", [1_200_000]),
        ("no budget stated here", []),
    ],
)
def test_budget_parser_reads_the_forms_the_labs_use(text, expected):
    assert stated_budgets(text) == expected


@pytest.mark.parametrize(("lab", "name", "constant"), LABS, ids=[lab for lab, _, _ in LABS])
@pytest.mark.parametrize("folder", ["labs/solutions", "labs"])
def test_the_budget_in_a_labs_prose_is_the_one_its_check_enforces(folder, lab, name, constant):
    path = ROOT / folder / f"{lab}.ipynb"
    budgets = stated_budgets(markdown(path))
    assert budgets, f"{path.relative_to(ROOT)}: no '**budget:** at most ... parameters' line found in its Markdown"
    wrong = [b for b in budgets if b != constant]
    assert not wrong, (
        f"{path.relative_to(ROOT)} states a budget of {wrong[0]:,} parameters, but utils/checks/{lab[3:]}.py "
        f"enforces {name} = {constant:,}: change one so that they agree"
    )
