"""Make the student version of an exercise notebook from its instructor version.

The instructor version uses nbgrader's markers. In the student version:

- the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become one
  ``raise NotImplementedError(hint)`` at the same indentation, where the hint is the text of the
  last ``# HINT:`` comment before the block in that cell (or a generic one);
- the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- outputs and execution counts are cleared; cell metadata (nbgrader's grade ids and points)
  is kept, so nbgrader can still grade the student's copy.

Run ``python -m nstutils.assignments`` to rebuild every student version.
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


if __name__ == "__main__":
    for written_path in release():
        print(f"wrote {written_path}")
    sys.exit(0)
