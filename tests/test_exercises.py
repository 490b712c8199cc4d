"""Exercises: references stay current, student versions stop with a hint, hidden tests bite."""

import json
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient.exceptions import CellExecutionError

import nstutils as nst
from nstutils.assignments import BEGIN_HIDDEN, END_HIDDEN, student_notebook
from nstutils.checks import (RECORDS_ENV, SEED_ENV, check, compare, generate_references,
                             hidden_check, load_references)
from nstutils.course import execute_notebook

EXERCISES = Path(__file__).resolve().parent.parent / "notebooks" / "exercises"
INSTRUCTOR = sorted((EXERCISES / "instructor").glob("*.ipynb"))
IDS = [p.stem for p in INSTRUCTOR]


def _grade_cell(path: Path, grade_id: str) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise KeyError(f"{path.name} has no cell {grade_id!r}")


def _hidden_tests(source: str) -> str:
    return source.split(BEGIN_HIDDEN, 1)[1].split(END_HIDDEN, 1)[0]


def test_there_are_six_assignments_with_grading_metadata():
    assert len(INSTRUCTOR) >= 6
    for path in INSTRUCTOR:
        cells = nbformat.read(path, as_version=4).cells
        graded = [c.metadata["nbgrader"] for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert graded and all(m["points"] > 0 and m["grade_id"] for m in graded), path.name
        for cell in cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                assert BEGIN_HIDDEN in cell.source, f"{path.name}: a graded cell has no hidden tests"


def test_reference_values_regenerate_to_what_is_committed():
    committed, fresh = load_references(), generate_references()
    assert sorted(committed) == sorted(fresh)
    for name in fresh:
        assert torch.allclose(torch.tensor(committed[name]), torch.tensor(fresh[name]),
                              rtol=1e-5, atol=1e-7), name


@pytest.mark.parametrize("path", INSTRUCTOR, ids=IDS)
def test_student_version_is_generated_from_the_instructor_version(path):
    committed = nbformat.read(EXERCISES / "student" / path.name, as_version=4)
    generated = student_notebook(nbformat.read(path, as_version=4))
    assert [c.source for c in committed.cells] == [c.source for c in generated.cells]
    assert "### BEGIN SOLUTION" not in nbformat.writes(committed)
    assert BEGIN_HIDDEN not in nbformat.writes(committed)


@pytest.mark.notebook
@pytest.mark.parametrize("path", INSTRUCTOR, ids=IDS)
def test_student_version_stops_at_the_first_exercise_with_its_hint(path):
    student = EXERCISES / "student" / path.name
    cells = nbformat.read(student, as_version=4).cells
    first = next(c.source for c in cells if c.cell_type == "code" and "NotImplementedError(" in c.source)
    hint = re.search(r"NotImplementedError\((['\"])(.*)\1\)", first).group(2)
    first_check = next(c.source for c in cells if c.metadata.get("nbgrader", {}).get("grade"))
    with pytest.raises(CellExecutionError) as info:
        execute_notebook(student, quick=True)
    message = str(info.value)
    assert "NotImplementedError" in message and hint in message
    # It stops in the first exercise: its solution cell or the check right after it.
    assert first.splitlines()[0] in message or first_check.splitlines()[0] in message


def _wrong_gram_unnormalized(f):
    v = f.flatten(2)
    return v @ v.transpose(1, 2)


def _wrong_gram_positions(f):
    v = f.flatten(2)
    return v.transpose(1, 2) @ v / v.shape[-1]


def _wrong_style_loss_unweighted(features, grams, weights):
    return sum(((nst.gram_matrix(features[k]) - a) ** 2).sum(dim=(1, 2)) for k, a in grams.items())


def _wrong_style_loss_mean(features, grams, weights):
    return sum(weights[k] * ((nst.gram_matrix(features[k]) - a) ** 2).mean(dim=(1, 2))
               for k, a in grams.items())


def _wrong_content_loss_no_half(f, p):
    return (f - p).pow(2).flatten(1).sum(1)


def _wrong_content_loss_mean(f, p):
    return 0.5 * (f - p).pow(2).flatten(1).mean(1)


def _wrong_content_gradient_doubled(f, p):
    return 2 * (f - p)


def _wrong_keep_colors_swapped(stylized, photo):
    return nst.color.with_chroma_of(photo, stylized)


def _wrong_keep_colors_mean_luminance(stylized, photo):
    grey = stylized.mean(1, keepdim=True)  # the average of R, G, B is not the luminance
    return (photo - photo.mean(1, keepdim=True) + grey).clamp(0, 1)


def _jitter_dx_first(image, pixels, generator):
    dx = int(torch.randint(-pixels, pixels + 1, (), generator=generator))
    dy = int(torch.randint(-pixels, pixels + 1, (), generator=generator))
    return torch.roll(image, shifts=(dy, dx), dims=(-2, -1))


def _wrong_jitter_never_reaches_pixels(image, pixels, generator):
    dy, dx = (int(torch.randint(-pixels, max(pixels, 1), (), generator=generator)) for _ in "yx")
    return torch.roll(image, shifts=(dy, dx), dims=(-2, -1))


def _wrong_blur_zero_padding(image, sigma):
    kernel = nst.transforms.gaussian_kernel(sigma)
    radius, c = kernel.numel() // 2, image.shape[1]
    out = torch.nn.functional.conv2d(image, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1),
                                     padding=(0, radius), groups=c)
    return torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1),
                                      padding=(radius, 0), groups=c)


def _wrong_l2_decay_sum(image, weight):
    return weight * ((image - 0.5) ** 2).sum()


def _ig_left_riemann(model, x, baseline, steps):
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (baseline + k / steps * (x - baseline)).requires_grad_(True)
        total += torch.autograd.grad(model(point).sum(), point)[0]
    return (x - baseline) * total / steps


def _ig_midpoint(model, x, baseline, steps):
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (baseline + (k + 0.5) / steps * (x - baseline)).requires_grad_(True)
        total += torch.autograd.grad(model(point).sum(), point)[0]
    return (x - baseline) * total / steps


def _wrong_ig_one_point(model, x, baseline, steps):
    return _ig_midpoint(model, x, baseline, 1)


def _wrong_ig_plain_average_gradient(model, x, baseline, steps):
    return _ig_left_riemann(model, x, baseline, steps) / (x - baseline).clamp(min=1e-6)


def _wrong_gap_sign(model, x, baseline, attributions):
    with torch.no_grad():
        change = (model(x) - model(baseline)).reshape(-1)
    return change - attributions.flatten(1).sum(1)


def _wrong_octaves_largest_first(height, width, octaves, scale):
    return [(round(height / scale ** i), round(width / scale ** i)) for i in range(octaves)]


def _wrong_octaves_truncated(height, width, octaves, scale):
    return [(int(height / scale ** i), int(width / scale ** i)) for i in range(octaves)][::-1]


def _wrong_detail_clamped_resize(dreamed, base, next_base):
    return (next_base + nst.resize(dreamed - base, tuple(next_base.shape[-2:]))).clamp(0, 1)


def _wrong_detail_whole_dream(dreamed, base, next_base):
    return (next_base + nst.resize(dreamed, tuple(next_base.shape[-2:]))).clamp(0, 1)


def _wrong_mean_std_unbiased(f):
    v = f.flatten(2)
    return torch.stack([v.mean(2), (v.var(2, unbiased=True) + 1e-5).sqrt()], dim=-1)


def _wrong_mean_std_variance(f):
    v = f.flatten(2)
    return torch.stack([v.mean(2), v.var(2, unbiased=False) + 1e-5], dim=-1)


def _wrong_mean_std_loss_unweighted(features, targets, weights):
    return sum((nst.mean_std(features[n]) - t).pow(2).sum(dim=(1, 2)) for n, t in targets.items())


WRONG_ANSWERS = [
    ("ex1_gram_and_style_loss", "gram_tests", {"my_gram_matrix": _wrong_gram_unnormalized}),
    ("ex1_gram_and_style_loss", "gram_tests", {"my_gram_matrix": _wrong_gram_positions}),
    ("ex1_gram_and_style_loss", "style_loss_tests",
     {"my_gram_matrix": nst.gram_matrix, "my_style_loss": _wrong_style_loss_unweighted}),
    ("ex1_gram_and_style_loss", "style_loss_tests",
     {"my_gram_matrix": nst.gram_matrix, "my_style_loss": _wrong_style_loss_mean}),
    ("ex2_content_loss", "content_loss_tests", {"my_content_loss": _wrong_content_loss_no_half}),
    ("ex2_content_loss", "content_loss_tests", {"my_content_loss": _wrong_content_loss_mean}),
    ("ex2_content_loss", "content_gradient_tests",
     {"my_content_gradient": _wrong_content_gradient_doubled}),
    ("ex3_activation_maximization", "jitter_tests",
     {"my_jitter": _wrong_jitter_never_reaches_pixels}),
    ("ex3_activation_maximization", "regularizer_tests",
     {"my_regularizer": _wrong_blur_zero_padding, "CHOICE": "blur"}),
    ("ex3_activation_maximization", "regularizer_tests",
     {"my_regularizer": _wrong_l2_decay_sum, "CHOICE": "l2_decay"}),
    ("ex4_integrated_gradients", "ig_tests",
     {"my_integrated_gradients": _wrong_ig_plain_average_gradient}),
    ("ex4_integrated_gradients", "ig_tests", {"my_integrated_gradients": _wrong_ig_one_point}),
    ("ex4_integrated_gradients", "gap_tests", {"my_completeness_gap": _wrong_gap_sign}),
    ("ex5_deep_dream_octaves", "octaves_tests", {"my_octave_sizes": _wrong_octaves_largest_first}),
    ("ex5_deep_dream_octaves", "octaves_tests", {"my_octave_sizes": _wrong_octaves_truncated}),
    ("ex5_deep_dream_octaves", "detail_tests", {"my_carry_detail": _wrong_detail_clamped_resize}),
    ("ex5_deep_dream_octaves", "detail_tests", {"my_carry_detail": _wrong_detail_whole_dream}),
    ("ex6_color_preserving_transfer", "keep_colors_tests",
     {"my_keep_colors": _wrong_keep_colors_swapped}),
    ("ex6_color_preserving_transfer", "keep_colors_tests",
     {"my_keep_colors": _wrong_keep_colors_mean_luminance}),
    ("ex7_mean_std_style_loss", "mean_std_tests", {"my_mean_std": _wrong_mean_std_unbiased}),
    ("ex7_mean_std_style_loss", "mean_std_tests", {"my_mean_std": _wrong_mean_std_variance}),
    ("ex7_mean_std_style_loss", "mean_std_loss_tests",
     {"my_mean_std": nst.mean_std, "my_mean_std_loss": _wrong_mean_std_loss_unweighted}),
]


@pytest.mark.parametrize("notebook, grade_id, answers", WRONG_ANSWERS,
                         ids=[f"{n}-{g}-{[v for v in a.values() if callable(v)][-1].__name__}"
                              for n, g, a in WRONG_ANSWERS])
def test_hidden_tests_fail_on_a_plausible_wrong_answer(notebook, grade_id, answers, monkeypatch):
    hidden = _hidden_tests(_grade_cell(EXERCISES / "instructor" / f"{notebook}.ipynb", grade_id))
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    for seed in range(3):
        monkeypatch.setenv(SEED_ENV, str(seed))
        with pytest.raises(AssertionError):
            exec(hidden, {"torch": torch, "nst": nst, **answers})


def _solutions(path: Path) -> dict:
    """The instructor's solution functions of one assignment, defined by running their cells."""
    namespace = {"torch": torch, "F": torch.nn.functional, "math": math, "nst": nst}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


@pytest.mark.parametrize("path", INSTRUCTOR, ids=IDS)
def test_the_solutions_pass_their_hidden_tests_whatever_the_seed(path, monkeypatch, tmp_path):
    """Hidden inputs change with the seed; a right answer must pass every draw, and be recorded."""
    namespace = _solutions(path)
    records = tmp_path / "records.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(records))
    graded = [c.source for c in nbformat.read(path, as_version=4).cells
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    for seed in range(12):
        monkeypatch.setenv(SEED_ENV, str(seed))
        for source in graded:
            exec(_hidden_tests(source), namespace)
    lines = records.read_text().splitlines()
    assert lines and all(json.loads(line)["error"] is None for line in lines)


def test_a_check_tests_its_own_function_not_the_ones_it_calls():
    """A right style loss passes although the student's Gram matrix (checked apart) is wrong."""
    namespace = {"torch": torch, "my_gram_matrix": _wrong_gram_unnormalized}
    path = EXERCISES / "instructor" / "ex1_gram_and_style_loss.ipynb"
    source = _grade_cell(path, "style_loss_solution")
    exec(source, namespace)
    check("style_loss", namespace["my_style_loss"])
    with pytest.raises(AssertionError, match="factor"):
        check("gram_matrix", namespace["my_gram_matrix"])
    assert namespace["my_gram_matrix"] is _wrong_gram_unnormalized  # put back afterwards


@pytest.mark.parametrize("wrong, says", [
    (lambda e: 4 * e, "same factor 4 "),
    (lambda e: -e, "opposite sign"),
    (lambda e: e + 0.25, "same amount 0.25"),
    (lambda e: e.transpose(-1, -2), "transposed"),
])
def test_feedback_names_the_kind_of_mistake(wrong, says):
    expected = torch.tensor([[[1.0, 2.0, 5.0], [3.0, 4.0, 6.0], [7.0, 8.0, 9.0]]])
    with pytest.raises(AssertionError, match=says):
        compare("x", wrong(expected), expected)


def test_feedback_names_no_pattern_where_there_is_none():
    expected = torch.tensor([[1.0, 2.0, 5.0], [3.0, 4.0, 6.0]])
    noisy = expected.clone()
    noisy[0, 0] += 1.0
    with pytest.raises(AssertionError) as info:
        compare("x", noisy, expected)
    assert "same" not in str(info.value) and "transposed" not in str(info.value)
    with pytest.raises(AssertionError, match="another order"):
        compare("x", expected.T, expected)


@pytest.mark.parametrize("name, function", [("jitter", _jitter_dx_first),
                                            ("integrated_gradients", _ig_left_riemann),
                                            ("integrated_gradients", _ig_midpoint)],
                         ids=["jitter-dx-first", "ig-left-riemann", "ig-midpoint"])
def test_every_valid_method_passes_the_visible_and_the_hidden_check(name, function, monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    check(name, function)
    for seed in range(5):
        monkeypatch.setenv(SEED_ENV, str(seed))
        hidden_check(name, function)
