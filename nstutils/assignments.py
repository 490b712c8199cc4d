"""Make the student version of an exercise notebook from its instructor version.

The instructor version uses nbgrader's markers. In the student version:

- the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become one
  ``raise NotImplementedError(hint)`` at the same indentation, where the hint is the text of the
  last ``# HINT:`` comment before the block in that cell (or a generic one);
- the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- outputs and execution counts are cleared; cell metadata (nbgrader's grade ids and points)
  is kept, so nbgrader can still grade the student's copy.

Run ``python -m nstutils.assignments`` to rebuild every student version, and
``python -m nstutils.assignments grade SUBMISSION.ipynb [...]`` to grade students' notebooks
without nbgrader: their answers go into the instructor notebook, which runs with its hidden tests.
"""

import copy
import re
import sys
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = re.compile(r"^\s*# HINT:\s*(.+)$")
DEFAULT_HINT = "This part is yours to write: replace this line with your code."
EXERCISES = Path(__file__).resolve().parent.parent / "notebooks" / "exercises"


class MarkerError(ValueError):
    """An instructor notebook whose solution or hidden-test markers do not pair up."""


def student_source(source: str) -> str:
    """Turn one instructor code cell into the student's.

    Args:
        source: the cell's code.

    Returns:
        str: solutions replaced by ``raise NotImplementedError(hint)``, hidden tests removed.

    Raises:
        MarkerError: a BEGIN marker without its END, or the other way round.
    """
    out, inside, hint = [], None, DEFAULT_HINT
    for number, line in enumerate(source.splitlines(), 1):
        marker = line.strip()
        if marker in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if inside:
                raise MarkerError(f"line {number}: {marker!r} inside {inside!r}")
            inside = marker
            if marker == BEGIN_SOLUTION:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}raise NotImplementedError({hint!r})")
        elif marker in (END_SOLUTION, END_HIDDEN):
            expected = BEGIN_SOLUTION if marker == END_SOLUTION else BEGIN_HIDDEN
            if inside != expected:
                raise MarkerError(f"line {number}: {marker!r} without {expected!r}")
            inside, hint = None, DEFAULT_HINT
        elif inside is None:
            out.append(line)
            found = HINT.match(line)
            if found:
                hint = found.group(1).strip()
    if inside:
        raise MarkerError(f"{inside!r} is never closed")
    return "\n".join(out)


def student_notebook(instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Build the student version of a whole notebook.

    Args:
        instructor: the instructor notebook.

    Returns:
        NotebookNode: a new notebook; the input is not changed.
    """
    student = copy.deepcopy(instructor)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = student_source(cell.source)
            cell.outputs, cell.execution_count = [], None
    return student


def release(instructor_dir: Path = EXERCISES / "instructor",
            student_dir: Path = EXERCISES / "student") -> list[Path]:
    """Write the student version of every instructor notebook.

    Args:
        instructor_dir: folder of instructor notebooks.
        student_dir: where the student versions go (same file names).

    Returns:
        list[Path]: the files written.
    """
    student_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(instructor_dir.glob("*.ipynb")):
        target = student_dir / path.name
        nbformat.write(student_notebook(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def grade(submission: Path,
          instructor_dir: Path = EXERCISES / "instructor") -> dict[str, tuple[float, float]]:
    """Grade a student's notebook: run their answers against the instructor's hidden tests.

    The student's solution cells (matched by nbgrader ``grade_id``) replace the instructor's
    solutions (a missing one becomes ``raise NotImplementedError``); the notebook then runs
    headless, and each graded code cell earns its points when it raises nothing. Markdown
    answers are left for the teacher to read.

    Args:
        submission: the student's .ipynb; its file name names the assignment.
        instructor_dir: folder of instructor notebooks.

    Returns:
        dict: grade_id -> (points earned, points possible) for each graded code cell, in
        notebook order.
    """
    from .course import run_notebook

    instructor_path = instructor_dir / Path(submission).name
    if not instructor_path.is_file():
        raise FileNotFoundError(f"No instructor notebook {instructor_path.name} in {instructor_dir}.")
    answers = {_grade_id(c): c.source for c in nbformat.read(submission, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(instructor_path, as_version=4)
    for cell in notebook.cells:  # a solution cell the student deleted earns nothing
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(_grade_id(cell), "raise NotImplementedError('missing')")
    run_notebook(notebook, instructor_dir, quick=True, allow_errors=True)
    scores = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            passed = not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            scores[meta["grade_id"]] = (meta["points"] if passed else 0, meta["points"])
    return scores


def main(argv: list[str]) -> int:
    """``release`` (default): write the student versions; ``grade FILE ...``: print the scores."""
    if argv[:1] == ["grade"]:
        for path in argv[1:]:
            if not Path(path).is_file():
                print(f"grade: no notebook at {path}", file=sys.stderr)
                return 2
            scores = grade(Path(path))
            for grade_id, (earned, possible) in scores.items():
                print(f"{path}: {grade_id:<24} {earned:g}/{possible:g}")
            earned = sum(e for e, _ in scores.values())
            possible = sum(p for _, p in scores.values())
            print(f"{path}: {'total':<24} {earned:g}/{possible:g}")
        return 0
    for written in release():
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
