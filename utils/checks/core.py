"""Shared machinery for exercise checks: verdicts, safe calls into student code, common comparisons."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from utils.progress import record

NOT_DONE = "not done yet: replace the `raise NotImplementedError(...)` line with your code, then run this check again."


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: its name, whether it passed, and the one-line reason."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        """A verdict is truthy when the check passed."""
        return self.passed

    def line(self) -> str:
        """The one line shown to the student."""
        mark = "PASS" if self.passed else "FAIL"
        return f"[{mark}] {self.name}: {self.message}"

    def __repr__(self) -> str:
        """Plain Python shows the verdict line."""
        return self.line()

    def _ipython_display_(self) -> None:
        """Notebooks already printed the line; show nothing more."""


class StudentError(Exception):
    """Raised inside a check to stop it with a one-line explanation of what is wrong."""


def verdict(name: str, problem: str | None, success: str = "correct.") -> Verdict:
    """Print and return the verdict: passed when problem is None."""
    v = Verdict(name, problem is None, success if problem is None else problem)
    print(v.line())
    return v


def run_check(name: str, body: Callable[[], None], success: str | Callable[[], str] = "correct.") -> Verdict:
    """Run a check body that raises StudentError on a problem; its random draws never touch the notebook's.

    success is the message of a pass, or a function that makes it from what the body found.
    """
    result = None
    with preserved_random_state():
        try:
            result = body()
            problem = None
        except StudentError as err:
            problem = str(err)
        except NotImplementedError:
            problem = NOT_DONE
        except Exception as err:  # a crash inside the student's code
            problem = f"your code raised {type(err).__name__}: {err}".strip()
    if result is not None:
        raise TypeError(f"the body of check {name!r} returned {result!r}: a check body raises StudentError instead.")
    if problem is None and callable(success):
        success = success()
    module = sys._getframe(1).f_globals.get("__name__", "").rpartition(".")[2]  # the notebook's checks module
    record(module, name, problem is None)
    return verdict(name, problem, success)


@contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a block and put Python's, NumPy's and torch's random states (CPU and CUDA) back afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class ExercisesNotFinished(Exception):
    """Raised by require_passed: shown in a notebook as one line, without a traceback."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback."""
        return [f"ExercisesNotFinished: {self}"]


def require_passed(*verdicts: Verdict) -> None:
    """Stop a cell that uses the answers of earlier exercises, naming those whose checks have not passed."""
    failed = [v.name for v in verdicts if not v]
    if failed:
        raise ExercisesNotFinished(
            f"this cell uses your answers, but these checks have not passed yet: {', '.join(failed)}. "
            "Finish those exercises above (each check must print [PASS]), then run this cell again."
        )


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call student code; NotImplementedError and crashes propagate to run_check, which explains them."""
    return fn(*args, **kwargs)


def call_loss_on_logits(fn: Callable[..., Any], what: str, hint: str, *args: Any, **kwargs: Any) -> torch.Tensor:
    """Call a student loss on logits; the usual probabilities-vs-logits crash or non-finite value stops with hint."""
    try:
        value = call(fn, *args, **kwargs)
    except RuntimeError as err:
        if "between 0 and 1" in str(err):
            raise StudentError(f"{what} crashed on negative logits: {hint}.") from None
        raise
    value = require_tensor(value, what)
    if value.dim() == 0 and not torch.isfinite(value):
        raise StudentError(f"{what} is {value.item()}: {hint}.")
    return require_scalar(value, what)


def require_values(out: Any, n: int, message: str) -> Sequence[Any]:
    """Stop unless out is a tuple or list of n values; message names them and has a {got} slot for what came back."""
    if not isinstance(out, (tuple, list)) or len(out) != n:
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"a {type(out).__name__}"
        raise StudentError(message.format(got=got))
    return out


def require_tensor(value: Any, what: str) -> torch.Tensor:
    """Stop with a message unless value is a tensor."""
    if not isinstance(value, torch.Tensor):
        raise StudentError(f"{what} should be a torch.Tensor, got {type(value).__name__}.")
    return value


def require_shape(t: torch.Tensor, shape: Sequence[int], what: str) -> None:
    """Stop with a message unless t has exactly this shape."""
    if tuple(t.shape) != tuple(shape):
        raise StudentError(f"{what} has shape {list(t.shape)}, expected {list(shape)}.")


def require_scalar(t: Any, what: str) -> torch.Tensor:
    """Stop unless t is a 0-dim tensor (a loss), explaining the usual cause."""
    t = require_tensor(t, what)
    if t.dim() != 0:
        raise StudentError(f"{what} should be a single number (0-dim tensor), got shape {list(t.shape)}: did you forget .mean() or .sum()?")
    if not torch.isfinite(t):
        raise StudentError(f"{what} is {t.item()}: check for log(0) or a division by zero.")
    return t


def is_close(a: Any, b: Any, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """True when two tensors (or numbers) have the same shape and agree; NaNs count as disagreement."""
    a = torch.as_tensor(a).detach().to(torch.float64).cpu()
    b = torch.as_tensor(b).detach().to(torch.float64).cpu()
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def reparameterisation_mistake(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> str | None:
    """Name the known mistake that turns (mu, logvar, eps) into z instead of mu + exp(0.5 * logvar) * eps, if any."""
    sigma = (0.5 * logvar).exp()
    candidates = {
        "you used logvar as the standard deviation: logvar is log sigma^2, the log of the variance, so sigma still has "
        "to be computed from it.": mu + logvar * eps,
        "you multiplied the noise by the variance exp(logvar): the noise is scaled by the standard deviation, the square "
        "root of the variance.": mu + logvar.exp() * eps,
        "you forgot the exp: half the log-variance is log sigma, not sigma itself.": mu + 0.5 * logvar * eps,
        "the exponent has the wrong sign: your noise is scaled by 1/sigma instead of sigma.": mu + (-0.5 * logvar).exp() * eps,
        "you forgot the noise: z equals mu; the noise eps, scaled by sigma, must be added to it.": mu,
        "you forgot to add mu: your z is centred at 0 instead of at the mean mu.": sigma * eps,
        "the noise term has the wrong sign: the scaled noise is added to mu, not subtracted from it.": mu - sigma * eps,
        "you mixed up the arguments: mu is the mean and logvar the log-variance, not the other way round.": logvar + (0.5 * mu).exp() * eps,
    }
    for message, candidate in candidates.items():
        if is_close(z, candidate.detach()):
            return message
    return None


def name_mistake(value: Any, wrong: dict[str, Any], rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Stop with the message of the first known wrong answer that value matches, if any."""
    for message, alt in wrong.items():
        if is_close(value, alt, rtol=rtol, atol=atol):
            raise StudentError(f"{message}.")


def require_grad_flow(value: torch.Tensor, inputs: Sequence[torch.Tensor], what: str = "the logits") -> None:
    """Stop unless backpropagating the scalar value reaches every input tensor (it calls value.backward())."""
    problem = f"no gradient flows back to {what}: don't use .item(), .detach() or torch.no_grad()."
    if not value.requires_grad:
        raise StudentError(problem)
    value.backward()
    if any(t.grad is None for t in inputs):
        raise StudentError(problem)


def require_param_grads(module: torch.nn.Module, what: str) -> None:
    """Stop unless every trainable parameter of module received a gradient."""
    missing = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
    if missing:
        raise StudentError(
            f"no gradient reaches {what}'s parameter(s) {', '.join(missing[:3])}: use every layer in forward, "
            "and no .detach() or torch.no_grad() inside it."
        )


def require_saveable(module: torch.nn.Module, example: torch.Tensor, what: str) -> None:
    """Stop unless module can be saved as the program lab 3 loads (utils.artifacts.export_program)."""
    from utils.artifacts import ArtifactUnusableError, export_program

    try:
        export_program(module, example.detach())
    except ArtifactUnusableError as err:
        raise StudentError(f"lab 3 loads {what} as a saved program, and this design cannot be saved: {err}") from None


def require_close(actual: torch.Tensor | float, expected: torch.Tensor | float, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Stop with the two values unless actual is close to expected."""
    a = torch.as_tensor(actual, dtype=torch.float64).detach().cpu()
    e = torch.as_tensor(expected, dtype=torch.float64).detach().cpu()
    if a.shape != e.shape:
        raise StudentError(f"{what} has shape {list(a.shape)}, expected {list(e.shape)}.")
    if not torch.allclose(a, e, rtol=rtol, atol=atol):
        if a.numel() == 1:
            hint = ""
            if torch.allclose(a, -e, rtol=rtol, atol=atol):
                hint = " (the sign is flipped)"
            raise StudentError(f"{what} is {a.item():.6g}, expected {e.item():.6g}{hint}.")
        worst = (a - e).abs().max().item()
        raise StudentError(f"{what} differs from the expected values (largest difference {worst:.3g}).")
