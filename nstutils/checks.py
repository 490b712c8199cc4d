"""Visible checks for the exercises: compare a student's function with stored reference values.

Each check case (in ``exercise_cases.py``) has seeded inputs and a reference function from the
package. The reference outputs are stored in ``references.json`` next to this file, written by
``python -m nstutils.checks`` (run it after changing the package; a test keeps the file current).
A check runs the student's function on the same inputs and reports which value is off, and by
how much.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from .exercise_cases import CASES, Case

REFERENCES = Path(__file__).with_name("references.json")


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """Elementwise |got - expected| relative to the expected magnitude.

    Args:
        got: any shape.
        expected: the same shape.

    Returns:
        Tensor of the same shape: ``|got - expected| / max(|expected|, 1e-3 * max|expected|)``.
    """
    scale = expected.abs().clamp_min(1e-3 * float(expected.abs().max()) + 1e-12)
    return (got - expected).abs() / scale


def compare(name: str, got, expected, rtol: float = 1e-4, hint: str = "") -> str:
    """Compare a result with the expected one and say how they differ.

    Args:
        name: what is compared, for the message.
        got: the student's result (tensor, number or nested list).
        expected: the reference, same shape.
        rtol: the largest relative error that passes.
        hint: appended to a failure message.

    Returns:
        str: a one-line success message.

    Raises:
        AssertionError: which entry is off, its value, the expected value and the relative error.
    """
    got_t = torch.as_tensor(got.detach().cpu() if isinstance(got, torch.Tensor) else got,
                            dtype=torch.float64)
    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != expected_t.shape:
        raise AssertionError(f"✘ {name}: your result has shape {tuple(got_t.shape)}, "
                             f"the reference has shape {tuple(expected_t.shape)}. {hint}".strip())
    if not torch.isfinite(got_t).all():
        raise AssertionError(f"✘ {name}: your result contains NaN or infinity. {hint}".strip())
    errors = relative_error(got_t, expected_t)
    worst = int(errors.argmax()) if errors.numel() else 0
    if errors.numel() and errors.flatten()[worst] > rtol:
        index = list(torch.unravel_index(torch.tensor(worst), errors.shape)) if errors.dim() else []
        where = f" at index {[int(i) for i in index]}" if index else ""
        raise AssertionError(
            f"✘ {name}: the value{where} is {got_t.flatten()[worst].item():.6g} but the reference "
            f"is {expected_t.flatten()[worst].item():.6g} (relative error "
            f"{100 * errors.flatten()[worst].item():.3g} %). {hint}".strip())
    largest = errors.max().item() if errors.numel() else 0.0
    return f"✔ {name}: matches the reference (largest relative error {largest:.1e})."


def check(name: str, student_fn: Callable[..., torch.Tensor]) -> None:
    """Run a student's function on the check's seeded inputs and compare with the reference.

    Args:
        name: a registered check, e.g. ``"gram_matrix"``.
        student_fn: the student's implementation.

    Raises:
        AssertionError: with the entry that is off and by how much.
    """
    case = _case(name)
    expected = load_references()[name]
    got = student_fn(*case.inputs())  # with autograd on: some exercises take gradients
    print(compare(name, got, expected, case.rtol, case.hint))


def check_inputs(name: str) -> tuple:
    """Return the seeded inputs of a check, to try a function on them by hand."""
    return _case(name).inputs()


def load_references() -> dict:
    """Read the stored reference values."""
    return json.loads(REFERENCES.read_text())


def generate_references() -> dict:
    """Compute every registered case's reference output from the package.

    Returns:
        dict: name -> nested list of floats.
    """
    out = {}
    for name, case in sorted(CASES.items()):
        with torch.no_grad():
            value = case.reference(*case.inputs())
        out[name] = torch.as_tensor(value, dtype=torch.float64).tolist()
    return out


def _case(name: str) -> Case:
    if name not in CASES:
        raise ValueError(f"No check named {name!r}. Checks: {', '.join(sorted(CASES))}.")
    return CASES[name]


if __name__ == "__main__":
    REFERENCES.write_text(json.dumps(generate_references(), indent=1) + "\n")
    print(f"wrote {REFERENCES}")
    sys.exit(0)
