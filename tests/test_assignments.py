"""Student versions: solutions become a NotImplementedError with the hint, hidden tests vanish."""

import nbformat
import pytest

from nstutils.assignments import MarkerError, student_notebook, student_source

INSTRUCTOR = '''def gram(v):
    # HINT: flatten to (N, C, H*W), then V @ V^T
    ### BEGIN SOLUTION
    f = v.flatten(2)
    return f @ f.transpose(1, 2)
    ### END SOLUTION


def other(x):
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION'''


def test_solutions_become_not_implemented_with_the_hint():
    assert student_source(INSTRUCTOR) == '''def gram(v):
    # HINT: flatten to (N, C, H*W), then V @ V^T
    raise NotImplementedError('flatten to (N, C, H*W), then V @ V^T')


def other(x):
    raise NotImplementedError('This part is yours to write: replace this line with your code.')'''


def test_hidden_tests_are_removed_and_visible_ones_kept():
    source = "check(a)\n### BEGIN HIDDEN TESTS\nassert secret(a)\n### END HIDDEN TESTS\nprint(1)"
    assert student_source(source) == "check(a)\nprint(1)"


@pytest.mark.parametrize("source", [
    "### BEGIN SOLUTION\nx = 1",
    "x = 1\n### END SOLUTION",
    "### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION",
])
def test_unpaired_markers_are_refused(source):
    with pytest.raises(MarkerError):
        student_source(source)


def test_student_notebook_keeps_grading_metadata_and_leaves_the_instructor_copy_alone():
    cell = nbformat.v4.new_code_cell(INSTRUCTOR, execution_count=3)
    cell.metadata["nbgrader"] = {"grade_id": "gram", "solution": True, "grade": False}
    cell.outputs = [nbformat.v4.new_output("stream", text="hi")]
    instructor = nbformat.v4.new_notebook(cells=[cell])
    student = student_notebook(instructor)
    assert "NotImplementedError" in student.cells[0].source
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert student.cells[0].metadata["nbgrader"]["grade_id"] == "gram"
    assert instructor.cells[0].source == INSTRUCTOR and instructor.cells[0].execution_count == 3
