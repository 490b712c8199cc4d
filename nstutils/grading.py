"""Grade students' exercise notebooks, each in its own sandbox, judged outside the student's reach.

For each submission: read it (a bad file is a row of the gradebook, not a traceback), match it
to an assignment by its cells' nbgrader ``grade_id``s, put its solution cells into the
instructor notebook (the assignment's own cells around them, its hidden tests included), and run
that in a fresh confined process (`nstutils.sandbox`) with a time and a memory limit.

The hidden tests (`nstutils.checks.hidden_check`) run the student's functions on inputs drawn
from this batch's seed and write the results, as numbers, to a records file. Points come only
from those numbers, judged here against the package's own answers, computed here before any
student code runs. So nothing the student's code does inside its kernel (swallow exceptions,
replace ``AssertionError``, patch ``nstutils.checks``, forge outputs, exit) earns a point it
did not compute; the README's "Grading you can trust" says what this stops and what it does not.
"""

import ast
import copy
import csv
import json
import secrets
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .checks import RECORDS_ENV, SEED_ENV, hidden_answers, judge_case, judge_properties
from .exercise_cases import HIDDEN
from .quick import QUICK_ENV
from .sandbox import EXECUTED, Limits, RunResult, run_confined

EXERCISES = Path(__file__).resolve().parent.parent / "notebooks" / "exercises"
MAX_NOTEBOOK_BYTES = 20_000_000
MAX_RECORD_BYTES = 4_000_000
SUSPICIOUS = ("set_custom_exc", "hidden_check", "NSTUTILS_GRADING", "nstutils.checks", "_exit",
              "sys.exit", "builtins", "AssertionError", "ctypes", "subprocess", "sys.modules",
              "importlib", "get_ipython", "exec(", "eval(", "__import__")


class SubmissionError(ValueError):
    """A submission that cannot be graded: not a notebook, or no assignment matches it."""


@dataclass(frozen=True)
class Task:
    """One graded code cell of an assignment: its points and the hidden checks it needs.

    ``checks`` holds one tuple per ``hidden_check`` call in the cell's hidden tests: the names
    it accepts (one, or the student's choice among several).
    """

    grade_id: str
    points: float
    checks: tuple[tuple[str, ...], ...]


@dataclass
class Assignment:
    """An instructor notebook, with what grading needs to know about it."""

    name: str
    notebook: nbformat.NotebookNode
    tasks: list[Task]
    by_hand: dict[str, float]      # markdown answers: grade_id -> points
    solution_ids: list[str]


@dataclass
class Graded:
    """The grade of one submission: points per graded cell, and why any were lost."""

    path: Path
    assignment: str | None = None
    points: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    by_hand: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        """Points earned in the automatically graded cells."""
        return sum(self.points.values())


def load_assignments(instructor_dir: Path = EXERCISES / "instructor") -> dict[str, Assignment]:
    """Read every instructor notebook and what its graded cells check.

    Args:
        instructor_dir: the folder of instructor notebooks.

    Returns:
        dict: assignment name (file stem) -> Assignment.

    Raises:
        ValueError: a graded code cell without a ``hidden_check`` in its hidden tests.
    """
    found = {}
    for path in sorted(Path(instructor_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tasks, by_hand, solutions = [], {}, []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                solutions.append(meta["grade_id"])
            if not meta.get("grade"):
                continue
            if cell.cell_type != "code":
                by_hand[meta["grade_id"]] = meta["points"]
                continue
            checks = _hidden_checks(cell.source)
            if not checks:
                raise ValueError(f"{path.name}: graded cell {meta['grade_id']!r} has no "
                                 "hidden_check(...) in its hidden tests, so it cannot be graded.")
            tasks.append(Task(meta["grade_id"], meta["points"], checks))
        found[path.stem] = Assignment(path.stem, nb, tasks, by_hand, solutions)
    return found


def grade_batch(submissions: list[Path], assignments: dict[str, Assignment],
                limits: Limits | None = None, seed: int | None = None, quick: bool = True,
                instructor_dir: Path = EXERCISES / "instructor", feedback: Path | None = None,
                progress=print) -> tuple[list[Graded], int]:
    """Grade many submissions one after the other; a bad one never stops the batch.

    Args:
        submissions: the students' .ipynb files.
        assignments: from `load_assignments`.
        limits: time and memory for each submission (`Limits()` when None).
        seed: draws the hidden tests' inputs (a fresh secret one when None).
        quick: run the notebooks' pictures at quick-mode sizes (the points do not depend on them).
        instructor_dir: kept out of every submission's sight.
        feedback: a folder for each run's executed notebook (the student's outputs), or None.
        progress: called with one line per submission as it is graded.

    Returns:
        (list[Graded], int): one grade per submission in order, and the seed used.
    """
    seed = secrets.randbits(31) if seed is None else seed
    needed = {name for a in assignments.values() for t in a.tasks for slot in t.checks
              for name in slot}
    answers = {name: hidden_answers(name, seed) for name in sorted(needed)}  # before any student code
    graded = []
    with tempfile.TemporaryDirectory(prefix="nst-grade-") as root:
        for number, path in enumerate(submissions, 1):
            folder = Path(root) / f"{number:03d}"
            folder.mkdir()
            result = grade_submission(Path(path), assignments, answers, folder,
                                      limits or Limits(), seed, quick, instructor_dir)
            graded.append(result)
            if feedback is not None and (folder / EXECUTED).is_file():
                Path(feedback).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / EXECUTED, Path(feedback) / f"{number:03d}-{Path(path).name}")
            progress(_summary(result))
    return graded, seed


def grade_submission(path: Path, assignments: dict[str, Assignment],
                     answers: dict[str, list], folder: Path, limits: Limits, seed: int,
                     quick: bool, instructor_dir: Path) -> Graded:
    """Grade one submission in ``folder`` (see the module docstring).

    Args:
        path: the student's notebook.
        assignments: from `load_assignments`.
        answers: check name -> the package's answers for this seed (`hidden_answers`).
        folder: an empty folder for this run (the only place it may write).
        limits: time and memory for the run.
        seed: the batch's seed.
        quick: run the pictures at quick-mode sizes.
        instructor_dir: kept out of the run's sight.

    Returns:
        Graded: points per graded cell, with the reason for every lost point.
    """
    graded = Graded(path)
    try:
        submission = read_submission(path)
        assignment, note = match_assignment(submission, path, assignments)
    except SubmissionError as err:
        graded.status, graded.reasons = "not graded", [str(err)]
        return graded
    graded.assignment = assignment.name
    graded.possible = {t.grade_id: t.points for t in assignment.tasks}
    graded.by_hand = dict(assignment.by_hand)
    graded.notes += [note] if note else []
    notebook, notes = build_notebook(assignment, submission)
    graded.notes += notes
    nbformat.write(notebook, folder / "submission.ipynb")
    records = folder / "records.jsonl"
    run = run_confined(folder / "submission.ipynb", folder, limits, hidden=(Path(instructor_dir),),
                       env={SEED_ENV: str(seed), RECORDS_ENV: str(records),
                            QUICK_ENV: "1" if quick else "0"})
    graded.status, graded.seconds = run.status, run.seconds
    if "files" not in run.confinement:
        graded.notes.append("ran without Landlock (this system has none): its code could write "
                            "anywhere you can")
    by_case, unreadable = read_records(records)
    if unreadable:
        graded.notes.append(f"tampering suspected: {unreadable} unreadable lines in the records")
    for task in assignment.tasks:
        reason = _judge_task(task, by_case, answers, run, folder, graded.notes, seed)
        graded.points[task.grade_id] = 0.0 if reason else task.points
        if reason:
            graded.reasons.append(f"{task.grade_id}: {reason}")
    return graded


def read_submission(path: Path) -> nbformat.NotebookNode:
    """Read a student's notebook, or say in one line why it cannot be read.

    Raises:
        SubmissionError: missing, empty, too large, not JSON, or not a notebook.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"no file at {path}")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"too large for a notebook ({size / 1e6:.0f} MB): clear its outputs "
                              "(Edit > Clear Outputs of All Cells) and hand it in again")
    try:
        notebook = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        raise SubmissionError("not a notebook: the file is not text (UTF-8)") from None
    except Exception as err:  # nbformat raises many kinds for a broken file; all mean the same
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise SubmissionError(f"not a readable notebook ({first})") from None
    if not isinstance(notebook.get("cells"), list):
        raise SubmissionError("not a notebook: it has no cells")
    return notebook


def match_assignment(submission: nbformat.NotebookNode, path: Path,
                     assignments: dict[str, Assignment]) -> tuple[Assignment, str]:
    """Find the assignment a submission answers, by its cells' nbgrader grade ids.

    Returns:
        (Assignment, str): the assignment, and a note when the file name says otherwise.

    Raises:
        SubmissionError: no assignment shares a solution cell with it.
    """
    ids = {_grade_id(c) for c in submission.cells if _grade_id(c)}
    overlap = {name: len(ids & set(a.solution_ids)) for name, a in assignments.items()}
    best = max(overlap, key=overlap.get, default=None)
    if best is None or overlap[best] == 0:
        raise SubmissionError(
            "matches no assignment: none of its cells carries the grade id of a solution cell "
            f"of {', '.join(sorted(assignments))} (was it made from a student notebook, with "
            "its cells kept?)")
    named = next((n for n in assignments if n in Path(path).stem), None)
    note = (f"file named like {named}, but its cells are {best}'s: graded as {best}"
            if named and named != best else "")
    return assignments[best], note


def build_notebook(assignment: Assignment,
                   submission: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """The instructor notebook with the student's solution cells in place of its own.

    Returns:
        (NotebookNode, list[str]): the notebook to run, and notes for the teacher (cells the
        student added, calls that look like tampering or like the package's own answer).
    """
    answers = {_grade_id(c): c.source for c in submission.cells
               if c.metadata.get("nbgrader", {}).get("solution") and isinstance(c.source, str)}
    notebook, notes = copy.deepcopy(assignment.notebook), []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        grade_id = _grade_id(cell)
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(grade_id, f"raise NotImplementedError('{grade_id}: this "
                                                "cell is missing from the submission')")
            if grade_id not in answers:
                notes.append(f"{grade_id}: missing from the submission")
            elif cell.cell_type == "code":
                notes += _suspicions(grade_id, cell.source, assignment)
    given = {c.source for c in assignment.notebook.cells if c.cell_type == "code"}
    changed = sum(1 for c in submission.cells if c.cell_type == "code" and not _grade_id(c)
                  and c.source.strip() and c.source not in given)
    if changed:
        notes.append(f"{changed} code cell(s) outside the solution cells were added or changed "
                     "and not run (only solution cells are graded: helpers belong inside them)")
    return notebook, notes


def read_records(path: Path) -> tuple[dict[tuple[str, int], list[tuple]], int]:
    """Read the hidden checks' records of a run, skipping what is not a well-formed record.

    Returns:
        (dict, int): (check, case) -> list of (value, error), and how many lines were unreadable.
    """
    by_case, unreadable = defaultdict(list), 0
    if not Path(path).is_file():
        return by_case, 0
    with open(path, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    lines = data.decode("utf-8", "replace").splitlines()
    if len(data) > MAX_RECORD_BYTES:
        lines, unreadable = lines[:-1], 1
    for line in lines:
        try:
            entry = json.loads(line)
            key = (str(entry["check"]), int(entry["case"]))
            error = entry.get("error")
            by_case[key].append((entry.get("value"), None if error is None else str(error)[:300]))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    return by_case, unreadable


def write_gradebook(graded: list[Graded], path: Path, seed: int) -> None:
    """Write one CSV row per submission: points per graded cell, total, and every reason.

    Args:
        graded: from `grade_batch`.
        path: the CSV file (replaced).
        seed: the batch's seed, kept in the file so the grading can be repeated.
    """
    auto = list(dict.fromkeys(g for r in graded for g in r.possible))
    manual = list(dict.fromkeys(g for r in graded for g in r.by_hand))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "assignment", *auto, *(f"{g} (by hand)" for g in manual),
                         "total", "possible", "status", "seconds", "reasons", "notes"])
        for r in graded:
            writer.writerow([str(r.path), r.assignment or "",
                             *(_points(r.points.get(g)) for g in auto),
                             *(f"/{r.by_hand[g]:g}" if g in r.by_hand else "" for g in manual),
                             *((_points(r.total), _points(sum(r.possible.values())))
                               if r.assignment else ("", "")), r.status,
                             f"{r.seconds:.0f}", " | ".join(r.reasons), " | ".join(r.notes)])
        writer.writerow([f"seed {seed}"])


def print_table(graded: list[Graded], seed: int) -> None:
    """Print the gradebook for a terminal: one line per submission, its reasons below."""
    width = max([len(str(r.path)) for r in graded] + [10])
    for r in graded:
        cells = "  ".join(f"{g} {_points(r.points[g])}/{r.possible[g]:g}" for g in r.possible)
        total = f"{_points(r.total)}/{sum(r.possible.values()):g}" if r.assignment else "-"
        print(f"{str(r.path):<{width}}  {total:>7}  {r.assignment or 'not graded'}  {cells}")
        for line in r.reasons:
            print(f"{'':<{width}}    {'lost' if r.assignment else 'why'}: {line}")
        for line in r.notes:
            print(f"{'':<{width}}    note: {line}")
        if r.by_hand:
            print(f"{'':<{width}}    by hand: "
                  + ", ".join(f"{g} ({p:g} point{'' if p == 1 else 's'})" for g, p in r.by_hand.items()))
    print(f"seed {seed} (--seed {seed} grades the same hidden cases again)")


def _judge_task(task: Task, by_case: dict, answers: dict, run: RunResult, folder: Path,
                notes: list[str], seed: int) -> str:
    """Why a graded cell earns nothing ("" when it earns its points)."""
    for slot in task.checks:
        reasons = []
        for name in slot:
            reason = _judge_check(name, by_case, answers[name], notes, seed)
            if not reason:
                break
            reasons.append(reason)
        else:
            reported = [r for r in reasons if not r.startswith("no result")]
            if reported:
                return reported[0]
            return _why_no_result(task.grade_id, run, folder)
    return ""


def _judge_check(name: str, by_case: dict, answers: list, notes: list[str],
                 seed: int) -> str:
    """Why a check failed ("" when every case has results and every result is right)."""
    reports = [by_case.get((name, index), []) for index in range(len(answers))]
    if not all(reports):
        return "no result"
    if any(len(r) > 1 for r in reports):
        notes.append(f"tampering suspected: hidden check {name} reported more than once per case "
                     "(every report was judged)")
    if HIDDEN[name].accept is not None:   # judged together, by properties: every report set
        for turn in range(max(len(r) for r in reports)):
            failure = judge_properties(name, seed, [r[min(turn, len(r) - 1)] for r in reports])
            if failure:
                return failure
        return ""
    for index, (outcomes, expected) in enumerate(zip(reports, answers)):
        for value, error in outcomes:
            failure = judge_case(name, index, value, error, expected)
            if failure:
                return failure
    return ""


def _why_no_result(grade_id: str, run: RunResult, folder: Path) -> str:
    """Explain a graded cell whose hidden tests never reported."""
    if run.status == "timeout":
        return f"not reached: the time limit ended the run after {run.seconds:.0f} s"
    if run.status == "kernel died":
        return "not reached: the kernel stopped (a cell exited it, or it ran out of memory)"
    if run.status == "failed":
        return f"not run: {run.detail.splitlines()[-1] if run.detail else 'the notebook failed'}"
    error = _cell_error(folder / EXECUTED, grade_id)
    return "its hidden tests did not run" + (f": the cell stopped with {error}" if error else "")


def _cell_error(executed: Path, grade_id: str) -> str:
    """The error a cell of the executed notebook showed (the student's kernel wrote it)."""
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except Exception:  # the run may have left no notebook, or a broken one
        return ""
    for cell in cells:
        if _grade_id(cell) == grade_id:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"{out.get('ename', '')}: {str(out.get('evalue', ''))[:200]}"
    return ""


def _suspicions(grade_id: str, source: str, assignment: Assignment) -> list[str]:
    """Notes on a solution cell that touches the grading machinery or calls the package's answer."""
    notes = [f"tampering suspected in {grade_id}: uses {token}" for token in SUSPICIOUS
             if token in source]
    solvers = {n for t in assignment.tasks for slot in t.checks for c in slot
               for n in HIDDEN[c].solved_by}
    used = sorted(solvers & _names_used(source))
    if used:
        notes.append(f"{grade_id} calls the package's own {', '.join(used)}: read it")
    return notes


def _names_used(source: str) -> set[str]:
    """The names and attributes a cell's code refers to (not its strings or comments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return ({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)})


def _hidden_checks(source: str) -> tuple[tuple[str, ...], ...]:
    """The ``hidden_check`` calls in a graded cell: the check names each accepts."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) \
                == "hidden_check":
            among = next((k.value for k in node.keywords if k.arg == "among"), None)
            first = node.args[0] if node.args else None
            names = ((first.value,) if isinstance(first, ast.Constant)
                     else tuple(ast.literal_eval(among)) if among is not None else ())
            found.append(names)
    return tuple(found)


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    meta = cell.get("metadata", {})
    grade_id = meta.get("nbgrader", {}).get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def _points(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _summary(result: Graded) -> str:
    if not result.assignment:
        return f"{result.path}: not graded: {result.reasons[0]}"
    return (f"{result.path}: {result.assignment} {_points(result.total)}/"
            f"{sum(result.possible.values()):g} ({result.status}, {result.seconds:.0f} s)")
