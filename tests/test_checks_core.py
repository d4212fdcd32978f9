"""utils.checks.core: verdict lines, safe calls into student code, comparisons that reject wrong answers."""

from __future__ import annotations

import importlib
import inspect
import math
import random
from typing import Any

import numpy as np
import pytest
import torch
from helpers import ROOT

from utils.checks import core


def test_verdict_prints_one_line_and_is_truthy(capsys):
    v = core.verdict("thing", None)
    assert v and v.passed
    assert capsys.readouterr().out == "[PASS] thing: correct.\n"
    v = core.verdict("thing", "wrong sign.")
    assert not v
    assert capsys.readouterr().out == "[FAIL] thing: wrong sign.\n"


def test_run_check_turns_stubs_and_crashes_into_verdicts(capsys):
    def stub():
        raise NotImplementedError("Exercise 1")

    assert "not done yet" in core.run_check("ex", lambda: core.call(stub)).message
    crash = core.run_check("ex", lambda: core.call(lambda: 1 / 0))
    assert not crash and "ZeroDivisionError" in crash.message
    student = core.run_check("ex", lambda: (_ for _ in ()).throw(core.StudentError("bad shape")))
    assert student.message == "bad shape"
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("[FAIL] ex:") for line in lines)


def test_require_helpers_reject_wrong_answers():
    with pytest.raises(core.StudentError, match="torch.Tensor"):
        core.require_tensor([1, 2], "x")
    with pytest.raises(core.StudentError, match=r"shape \[2, 3\], expected \[3, 2\]"):
        core.require_shape(torch.zeros(2, 3), (3, 2), "x")
    with pytest.raises(core.StudentError, match="mean"):
        core.require_scalar(torch.zeros(4), "loss")
    with pytest.raises(core.StudentError, match="log\\(0\\)"):
        core.require_scalar(torch.tensor(float("inf")), "loss")
    with pytest.raises(core.StudentError, match="sign is flipped"):
        core.require_close(torch.tensor(-2.0), torch.tensor(2.0), "loss")
    with pytest.raises(core.StudentError, match="largest difference"):
        core.require_close(torch.zeros(3), torch.ones(3), "x")
    core.require_close(torch.ones(3), torch.ones(3) + 1e-7, "x")  # close enough passes


def test_verdict_hides_itself_in_notebooks():
    v = core.Verdict("n", True, "ok")
    assert v._ipython_display_() is None and repr(v) == "[PASS] n: ok"


def test_is_close_needs_same_shape_and_values():
    assert core.is_close(torch.ones(3), torch.ones(3, dtype=torch.float64))
    assert not core.is_close(torch.ones(3), torch.ones(1, 3))
    assert not core.is_close(torch.tensor([float("nan")]), torch.tensor([float("nan")]))
    assert not core.is_close(1.0, 1.01)


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (lambda mu, lv, eps: mu + lv * eps, "logvar as the standard deviation"),
        (lambda mu, lv, eps: mu + lv.exp() * eps, "by the variance exp(logvar)"),
        (lambda mu, lv, eps: mu + 0.5 * lv * eps, "forgot the exp"),
        (lambda mu, lv, eps: mu + (-0.5 * lv).exp() * eps, "1/sigma"),
        (lambda mu, lv, eps: mu, "forgot the noise"),
        (lambda mu, lv, eps: (0.5 * lv).exp() * eps, "forgot to add mu"),
        (lambda mu, lv, eps: mu - (0.5 * lv).exp() * eps, "wrong sign"),
        (lambda mu, lv, eps: lv + (0.5 * mu).exp() * eps, "mixed up the arguments"),
    ],
)
def test_reparameterisation_mistakes_are_named(wrong, fragment):
    g = torch.Generator().manual_seed(0)
    mu, logvar, eps = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3))
    assert core.reparameterisation_mistake(mu + (0.5 * logvar).exp() * eps, mu, logvar, eps) is None  # the right answer
    assert fragment in core.reparameterisation_mistake(wrong(mu, logvar, eps), mu, logvar, eps)


def test_name_mistake_names_the_matching_wrong_answer_only():
    wrong = {"the sign is flipped": torch.tensor(-2.0), "use the mean, not the sum": torch.tensor(8.0)}
    with pytest.raises(core.StudentError, match=r"^the sign is flipped\.$"):
        core.name_mistake(torch.tensor(-2.0), wrong)
    with pytest.raises(core.StudentError, match="use the mean"):
        core.name_mistake(torch.tensor(8.00001), wrong)
    core.name_mistake(torch.tensor(2.0), wrong)  # an unknown value: the caller explains it
    core.name_mistake(torch.tensor(8.05), wrong)
    with pytest.raises(core.StudentError):
        core.name_mistake(torch.tensor(8.05), wrong, rtol=1e-2)


def test_require_grad_flow_rejects_detached_and_partial_losses():
    a, b = torch.randn(4, requires_grad=True), torch.randn(4, requires_grad=True)
    with pytest.raises(core.StudentError, match="no gradient flows back to the logits"):
        core.require_grad_flow(a.detach().sum(), [a])
    with pytest.raises(core.StudentError, match="no gradient flows back to the scores"):
        core.require_grad_flow(a.sum() * 2, [a, b], what="the scores")  # b never used
    core.require_grad_flow((a * b).sum(), [a, b])
    assert a.grad is not None and b.grad is not None


def test_require_param_grads_names_the_unused_layer():
    class TwoLayers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    net = TwoLayers()
    net(torch.randn(5, 3)).sum().backward()
    with pytest.raises(core.StudentError, match=r"no gradient reaches the net's parameter\(s\) unused.weight, unused.bias"):
        core.require_param_grads(net, "the net")
    net.unused(torch.randn(5, 3)).sum().backward()
    core.require_param_grads(net, "the net")


# -- one pattern for every check ---------------------------------------------------------------------

CHECK_MODULES = sorted(p.stem for p in (ROOT / "utils" / "checks").glob("*.py") if p.stem not in ("__init__", "core"))
_GRID = torch.linspace(-6.0, 6.0, 601)
EXTRA_ARGS = {  # required arguments besides the student's answer, by name
    "z_dim": 8,
    "x_grid": _GRID,
    "log_p": torch.logsumexp(torch.stack([-((_GRID - m) ** 2) / (2 * 0.36) for m in (-2.0, 2.0)]), 0)
    - 0.5 * math.log(2 * math.pi * 0.36)
    - math.log(2),
    "steps": 5,
    "x": torch.randn(40, 2, generator=torch.Generator().manual_seed(0)),
    "x_test": torch.randn(40, 2, generator=torch.Generator().manual_seed(1)),
}


def _all_checks() -> list[tuple[str, Any]]:
    """(module.name, function) for every public check of every check module."""
    found = []
    for name in CHECK_MODULES:
        module = importlib.import_module(f"utils.checks.{name}")
        found += [(f"{name}.{attr}", fn) for attr, fn in vars(module).items() if attr.startswith("check_") and callable(fn)]
    return found


def _random_states() -> tuple[Any, ...]:
    """Python's, NumPy's and torch's random states, comparable with ==."""
    return random.getstate(), repr(np.random.get_state()), torch.random.get_rng_state().tolist()


def _noisy_answer(*args: Any, **kwargs: Any) -> Any:
    """A wrong answer that draws from every random generator before failing."""
    random.random()
    np.random.rand(3)
    torch.randn(3)
    raise ValueError("a wrong answer")


def test_every_check_module_is_named_after_a_notebook_that_uses_it():
    sources = {p.stem.split("_", 1)[1]: p for p in [*ROOT.glob("lectures/solutions/*.ipynb"), *ROOT.glob("labs/solutions/*.ipynb")]}
    for name in CHECK_MODULES:
        assert name in sources, f"utils/checks/{name}.py is named after no notebook (expected NN_{name}.ipynb)"
        assert f"from utils.checks import {name} as checks" in sources[name].read_text(encoding="utf-8")


def test_check_modules_keep_their_reference_answers_private():
    for name in CHECK_MODULES:
        module = importlib.import_module(f"utils.checks.{name}")
        public = [
            a
            for a, obj in vars(module).items()
            if callable(obj) and not a.startswith("_") and getattr(obj, "__module__", "") == module.__name__ and not isinstance(obj, type)
        ]
        assert all(a.startswith("check_") for a in public), f"utils.checks.{name} exposes {public}: make non-checks private"
        assert module.require_passed is core.require_passed, f"utils.checks.{name} must re-export core.require_passed"


@pytest.mark.parametrize("qualname,check", _all_checks(), ids=[q for q, _ in _all_checks()])
def test_no_check_changes_the_notebooks_random_state(qualname, check, capsys):
    params = list(inspect.signature(check).parameters.values())
    kwargs = {p.name: EXTRA_ARGS[p.name] for p in params[1:] if p.default is inspect.Parameter.empty}
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    before = _random_states()
    v = check(_noisy_answer, **kwargs)
    assert _random_states() == before, f"{qualname} changed the caller's random state"
    assert not v and "ValueError" in v.message, v.line()
    assert capsys.readouterr().out.count("\n") == 1, "a check prints exactly one line"


def test_require_passed_names_the_unfinished_checks_in_one_line():
    done, todo = core.Verdict("a", True, "ok"), core.Verdict("b", False, "not done yet")
    core.require_passed(done)
    with pytest.raises(core.ExercisesNotFinished, match="have not passed yet: b\\.") as err:
        core.require_passed(done, todo)
    assert err.value._render_traceback_() == [f"ExercisesNotFinished: {err.value}"]


def test_a_check_body_that_returns_a_message_is_a_bug_not_a_pass():
    """Bodies report problems by raising StudentError; a returned string must not read as a pass."""
    with pytest.raises(TypeError, match="raises StudentError"):
        core.run_check("demo", lambda: "the answer is wrong.")
