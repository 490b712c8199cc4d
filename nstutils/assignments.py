"""Make the student version of an exercise notebook from its instructor version.

The instructor version uses nbgrader's markers. In the student version:

- the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become one
  ``raise NotImplementedError(hint)`` at the same indentation, where the hint is the text of the
  last ``# HINT:`` comment before the block in that cell (or a generic one);
- the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- outputs and execution counts are cleared; cell metadata (nbgrader's grade ids and points)
  is kept, so nbgrader can still grade the student's copy.

The command line (``python -m nstutils.assignments --help``):

- ``release`` rebuilds every student version next to the instructor versions (after editing one);
- ``handout DIR`` writes the student versions, and nothing else, to a folder to publish;
- ``grade FILE_OR_FOLDER ...`` grades students' notebooks (`nstutils.grading`) and writes a
  gradebook.
"""

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from .grading import EXERCISES, grade_batch, load_assignments, print_table, write_gradebook
from .sandbox import Limits

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = re.compile(r"^\s*# HINT:\s*(.+)$")
DEFAULT_HINT = "This part is yours to write: replace this line with your code."


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


def handout(folder: Path, instructor_dir: Path = EXERCISES / "instructor") -> list[Path]:
    """Write the student version of every assignment, and nothing else, into a folder to publish.

    Args:
        folder: created if missing; student notebooks of the same name in it are replaced.
        instructor_dir: folder of instructor notebooks.

    Returns:
        list[Path]: the files written.

    Raises:
        ValueError: the folder is, or is inside, the instructor folder.
    """
    folder, instructor_dir = Path(folder).resolve(), Path(instructor_dir).resolve()
    if folder == instructor_dir or instructor_dir in folder.parents:
        raise ValueError(f"{folder} is inside the instructor folder: choose a folder to publish.")
    return release(instructor_dir, folder)


def _submissions(paths: list[str]) -> list[Path]:
    """Expand folders into the notebooks inside them (checkpoints left out), keep files as given."""
    found = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(p for p in given.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(given)
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nstutils.assignments",
                                     description="Student versions, hand-outs and grading.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("release", help="rebuild notebooks/exercises/student from the instructor versions")
    out = sub.add_parser("handout", help="write the student notebooks (only) to a folder to publish")
    out.add_argument("folder", type=Path)
    grade = sub.add_parser("grade", help="grade students' notebooks, each in its own sandbox")
    grade.add_argument("submissions", nargs="+", help="notebooks, or folders of them")
    grade.add_argument("--gradebook", type=Path, default=Path("gradebook.csv"),
                       help="the CSV to write (default: gradebook.csv, replaced)")
    grade.add_argument("--seed", type=int, help="draws the hidden tests' inputs (default: a "
                       "fresh secret one, printed; give it again to repeat a grading)")
    grade.add_argument("--time-limit", type=float, default=Limits.seconds, metavar="SECONDS",
                       help=f"per submission (default {Limits.seconds:g})")
    grade.add_argument("--memory-limit", type=int, default=Limits.memory_mb, metavar="MB",
                       help=f"memory a submission may allocate (default {Limits.memory_mb})")
    grade.add_argument("--full", action="store_true",
                       help="run the pictures at full size (slower; the points are the same)")
    grade.add_argument("--instructor", type=Path, default=EXERCISES / "instructor",
                       help="the instructor notebooks (default: the course's)")
    grade.add_argument("--feedback", type=Path, metavar="FOLDER",
                       help="keep each submission's executed notebook there")
    return parser


def main(argv: list[str]) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "handout":
        try:
            written = handout(args.folder)
        except ValueError as err:
            print(f"handout: {err}", file=sys.stderr)
            return 2
        print(f"wrote {len(written)} student notebooks to {args.folder}: publish this folder, "
              "not the repository (it holds the solutions)")
        return 0
    if args.command == "grade":
        if args.time_limit <= 0 or args.memory_limit < 512:
            print("grade: --time-limit must be > 0 and --memory-limit at least 512 (MB)",
                  file=sys.stderr)
            return 2
        if not args.instructor.is_dir():
            print(f"grade: no instructor notebooks at {args.instructor}; pass --instructor DIR",
                  file=sys.stderr)
            return 2
        if args.gradebook.is_dir() or not args.gradebook.resolve().parent.is_dir():
            print(f"grade: cannot write the gradebook {args.gradebook}: give a .csv file in an "
                  "existing folder", file=sys.stderr)
            return 2
        submissions = _submissions(args.submissions)
        if not submissions:
            print("grade: no notebooks (*.ipynb) in the folders given", file=sys.stderr)
            return 2
        graded, seed = grade_batch(submissions, load_assignments(args.instructor),
                                   Limits(args.time_limit, args.memory_limit), args.seed,
                                   quick=not args.full, instructor_dir=args.instructor,
                                   feedback=args.feedback)
        write_gradebook(graded, args.gradebook, seed)
        print_table(graded, seed)
        print(f"wrote {args.gradebook}")
        return 0
    for written in release():
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
