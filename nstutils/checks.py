"""Checks for the exercises: compare a student's function with the package's answer.

Visible checks (`check`) use fixed seeded inputs from ``exercise_cases.py``; their reference
outputs are stored in ``references.json`` next to this file, written by
``python -m nstutils.checks`` (run it after changing the package; a test keeps the file current).

Hidden checks (`hidden_check`, in the instructor notebooks' hidden tests) draw their inputs from
a seed: the grader's (``NSTUTILS_GRADING_SEED``), or a fresh one on every run. Under the grader
each result also goes, as numbers, to the file named by ``NSTUTILS_GRADING_RECORDS``, and the
grader judges those numbers itself (`judge_hidden`), outside the student's kernel.

Both report which value is off, and by how much.
"""

import contextlib
import json
import os
import secrets
import sys
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from .exercise_cases import CASES, HIDDEN, Case, HiddenCase

REFERENCES = Path(__file__).with_name("references.json")
SEED_ENV, RECORDS_ENV = "NSTUTILS_GRADING_SEED", "NSTUTILS_GRADING_RECORDS"


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
        order = (" Same sizes in another order: are two axes swapped?"
                 if sorted(got_t.shape) == sorted(expected_t.shape) else "")
        raise AssertionError(f"✘ {name}: your result has shape {tuple(got_t.shape)}, the "
                             f"reference has shape {tuple(expected_t.shape)}.{order} {hint}".strip())
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
            f"{100 * errors.flatten()[worst].item():.3g} %).{kind_of_mistake(got_t, expected_t)} "
            f"{hint}".strip())
    largest = errors.max().item() if errors.numel() else 0.0
    return f"✔ {name}: matches the reference (largest relative error {largest:.1e})."


def kind_of_mistake(got: torch.Tensor, expected: torch.Tensor) -> str:
    """Name a systematic mistake, when the difference has one: a factor, an offset, a transpose.

    Args:
        got: the student's result, float64.
        expected: the reference, the same shape.

    Returns:
        str: a sentence starting with a space, or "" when no pattern fits.
    """
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    if scale == 0.0 or got.numel() < 2:
        return ""
    tol = 1e-3 * scale
    if expected.dim() >= 2 and expected.shape[-1] == expected.shape[-2] and \
            not torch.allclose(expected, expected.transpose(-1, -2), atol=tol) and \
            torch.allclose(got, expected.transpose(-1, -2), atol=tol):
        return " Your result is the reference transposed: its last two axes are swapped."
    big = expected.abs() > 0.1 * scale
    ratio = got[big] / expected[big]
    if big.sum() >= 2 and (ratio - ratio.mean()).abs().max() < 1e-3 * ratio.abs().mean():
        factor = float(ratio.mean())
        if abs(factor + 1) < 1e-3:
            return " Every value has the opposite sign: check the order of a subtraction."
        if abs(factor) > 1e-6:
            return (f" Every value is off by the same factor {factor:.4g} (1/{1 / factor:.4g}): "
                    "check a normalization or a constant factor.")
    offset = got - expected
    if (offset - offset.mean()).abs().max() < tol:
        return (f" Every value is off by the same amount {float(offset.mean()):.4g}: check an "
                "added constant.")
    return ""


def check(name: str, student_fn: Callable[..., torch.Tensor]) -> None:
    """Run a student's function on the check's seeded inputs and compare with the reference.

    Args:
        name: a registered check, e.g. ``"gram_matrix"``.
        student_fn: the student's implementation.

    Raises:
        AssertionError: with the entry that is off and by how much.
    """
    case = _case(name)
    with only_this_function(student_fn, case.uses):
        got = student_fn(*case.inputs())  # with autograd on: some exercises take gradients
    if case.accept is None:
        print(compare(name, got, load_references()[name], case.rtol, case.hint))
        return
    failure = case.accept([case.inputs()], [torch.as_tensor(plain(got), dtype=torch.float64)])
    if failure:
        raise AssertionError(f"✘ {name}: {failure}. {case.hint}".strip())
    print(f"✔ {name}: right (judged by its properties: more than one answer is right).")


@contextlib.contextmanager
def only_this_function(student_fn: Callable, uses: Mapping[str, Callable]):
    """While inside, the student's function calls the package's versions of their other ones.

    A style loss check then fails only for a wrong style loss, not for a wrong Gram matrix the
    loss calls (that one has its own check).

    Args:
        student_fn: the function under test; its module's globals are patched and restored.
        uses: the student's function names -> the package's versions.
    """
    namespace = getattr(student_fn, "__globals__", None)
    saved = {n: namespace[n] for n in uses if namespace is not None and n in namespace}
    try:
        if namespace is not None:
            namespace.update({n: uses[n] for n in saved})
        yield
    finally:
        if namespace is not None:
            namespace.update(saved)


def hidden_check(name: str, student_fn: Callable, among: tuple[str, ...] | None = None) -> None:
    """Run a student's function on inputs drawn now, and compare with the package's answers.

    Args:
        name: a hidden check, e.g. ``"gram_matrix"``.
        student_fn: the student's implementation.
        among: the names a student may choose from, when ``name`` is their choice.

    Raises:
        AssertionError: the first case that is off, or the error the function raised.
    """
    if among is not None and name not in among:
        raise AssertionError(f"✘ {name!r} is not one of {', '.join(map(repr, among))}.")
    case = _hidden(name)
    seed = int(os.environ.get(SEED_ENV) or secrets.randbits(31))
    outcomes = []
    for index in range(case.cases):
        try:
            with only_this_function(student_fn, case.uses):
                got, error = student_fn(*hidden_inputs(name, seed, index)), None
            value = plain(got)
        except Exception as err:  # the student's code: any error is a failed case, reported
            value, error = None, f"{type(err).__name__}: {err}"
        _record({"check": name, "case": index, "value": value, "error": error})
        outcomes.append((value, error))
    failure = judge_hidden(name, seed, outcomes)
    if failure:
        raise AssertionError(failure)
    print(f"✔ {name}: all {case.cases} hidden cases match the reference.")


def hidden_inputs(name: str, seed: int, index: int) -> tuple:
    """The inputs of hidden case ``index`` of a check for a grading seed (fresh objects each call)."""
    key = (seed * 1_000_003 + zlib.crc32(name.encode()) + index) % 2 ** 62
    return _hidden(name).draw(torch.Generator().manual_seed(key), index)


def hidden_answers(name: str, seed: int) -> list[torch.Tensor]:
    """The package's answers to every hidden case of a check, as float64 tensors."""
    case = _hidden(name)
    return [torch.as_tensor(_detached(case.reference(*hidden_inputs(name, seed, i))),
                            dtype=torch.float64) for i in range(case.cases)]


def judge_hidden(name: str, seed: int, outcomes: list[tuple[object, str | None]],
                 answers: list[torch.Tensor] | None = None) -> str | None:
    """Judge a student's results on the hidden cases of a check.

    Args:
        name: the check.
        seed: the grading seed the inputs were drawn with.
        outcomes: (value as nested lists of numbers, or None; error message or None) per case.
        answers: the package's answers, when already computed (`hidden_answers`).

    Returns:
        str | None: None when every case matches; else what is wrong with the first bad case.
    """
    case = _hidden(name)
    if len(outcomes) != case.cases:
        return f"✘ {name}: {len(outcomes)} of its {case.cases} hidden cases ran."
    if case.accept is not None:
        return judge_properties(name, seed, outcomes)
    answers = answers if answers is not None else hidden_answers(name, seed)
    for index, (outcome, expected) in enumerate(zip(outcomes, answers)):
        failure = judge_case(name, index, *outcome, expected)
        if failure:
            return failure
    return None


def judge_properties(name: str, seed: int, outcomes: list[tuple[object, str | None]]) -> str | None:
    """Judge all hidden cases of a check that accepts more than one answer, by their properties.

    Args:
        name: a check whose `HiddenCase` has ``accept``.
        seed: the grading seed the inputs were drawn with.
        outcomes: (value, error) per case, in case order.

    Returns:
        str | None: None when the results are right; else what is wrong.
    """
    case = _hidden(name)
    for index, (value, error) in enumerate(outcomes):
        if error is not None or value is None:
            return (f"✘ {name} (hidden case {index + 1} of {case.cases}): your function raised "
                    f"{error or 'nothing usable'}")
    try:
        results = [torch.as_tensor(value, dtype=torch.float64) for value, _ in outcomes]
    except (TypeError, ValueError, RuntimeError) as err:
        return f"✘ {name}: a result is not numbers of a regular shape ({err})"
    inputs = [hidden_inputs(name, seed, i) for i in range(case.cases)]
    failure = case.accept(inputs, results)
    return f"✘ {name} (hidden cases): {failure}" if failure else None


def judge_case(name: str, index: int, value: object, error: str | None,
               expected: torch.Tensor) -> str | None:
    """Judge one hidden case: None when ``value`` matches ``expected``, else what is wrong."""
    case = _hidden(name)
    label = f"{name} (hidden case {index + 1} of {case.cases})"
    if error is not None or value is None:
        return f"✘ {label}: your function raised {error or 'nothing usable'}"
    try:
        compare(label, value, expected, case.rtol)
    except AssertionError as err:
        return str(err)
    except (TypeError, ValueError, RuntimeError) as err:  # not numbers: say so
        return f"✘ {label}: the result is not numbers of the right shape ({err})"
    return None


def plain(result: object) -> object:
    """A function's result as nested lists of float64 numbers (what the records hold).

    Raises:
        ValueError: the result is not numbers of a regular shape.
    """
    try:
        return torch.as_tensor(_detached(result), dtype=torch.float64).tolist()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"the result is not a tensor or a regular list of numbers ({err})") from None


def _detached(result: object) -> object:
    return result.detach().cpu() if isinstance(result, torch.Tensor) else result


def _record(entry: dict) -> None:
    """Append one result to the grader's records file, when grading."""
    path = os.environ.get(RECORDS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as records:
            records.write(json.dumps(entry, allow_nan=True) + "\n")


def _hidden(name: str) -> HiddenCase:
    if name not in HIDDEN:
        raise ValueError(f"No hidden check named {name!r}. Hidden checks: {', '.join(sorted(HIDDEN))}.")
    return HIDDEN[name]


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
        if case.accept is not None:   # judged by properties, not by stored values
            continue
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
