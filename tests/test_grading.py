"""Grading: bad files, matching by metadata, cheating that earns nothing, a batch that survives."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nstutils.assignments import handout, main, student_notebook
from nstutils.checks import hidden_answers, plain
from nstutils.grading import (EXERCISES, SubmissionError, _hidden_checks, build_notebook,
                              grade_batch, load_assignments, match_assignment, read_records,
                              read_submission, write_gradebook)
from nstutils.sandbox import EXECUTED, Limits, run_confined

INSTRUCTOR = EXERCISES / "instructor"
EX2 = "ex2_content_loss"


def _notebook(*sources: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def _answered(name: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The student version of an assignment with some solution cells answered."""
    nb = student_notebook(nbformat.read(INSTRUCTOR / f"{name}.ipynb", as_version=4))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


SOLVED_LOSS = "def my_content_loss(f, p):\n    return 0.5 * (f - p).pow(2).flatten(1).sum(1)"
SOLVED_GRADIENT = "def my_content_gradient(f, p):\n    return f - p"


# --- reading and matching ----------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"", "not a readable notebook"),
    (b"not json at all", "not a readable notebook"),
    (b'{"cells": 3}', "not a readable notebook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a readable notebook"),
])
def test_a_file_that_is_not_a_notebook_says_so_in_one_line(tmp_path, content, message):
    path = tmp_path / "ex2_content_loss.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=message) as info:
        read_submission(path)
    assert "\n" not in str(info.value)


def test_a_huge_file_is_refused_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr("nstutils.grading.MAX_NOTEBOOK_BYTES", 100)
    path = tmp_path / "big.ipynb"
    nbformat.write(_answered(EX2, {}), path)
    with pytest.raises(SubmissionError, match="Clear Outputs"):
        read_submission(path)


def test_the_assignment_is_matched_by_grade_ids_not_by_the_file_name(tmp_path):
    assignments = load_assignments(INSTRUCTOR)
    renamed = tmp_path / "ex2_content_loss (1).ipynb"
    nbformat.write(_answered(EX2, {}), renamed)
    assert match_assignment(read_submission(renamed), renamed, assignments) == (assignments[EX2], "")
    misnamed = tmp_path / "ex4_integrated_gradients.ipynb"
    nbformat.write(_answered("ex1_gram_and_style_loss", {}), misnamed)
    found, note = match_assignment(read_submission(misnamed), misnamed, assignments)
    assert found.name == "ex1_gram_and_style_loss"
    assert "ex4_integrated_gradients" in note and "graded as ex1_gram_and_style_loss" in note
    stranger = tmp_path / "ex2_content_loss.ipynb"
    nbformat.write(_notebook("print('my own notebook')"), stranger)
    with pytest.raises(SubmissionError, match="matches no assignment"):
        match_assignment(read_submission(stranger), stranger, assignments)


def test_every_graded_cell_names_its_hidden_checks():
    assignments = load_assignments(INSTRUCTOR)
    assert len(assignments) == 7
    for assignment in assignments.values():
        assert assignment.tasks and all(task.checks for task in assignment.tasks)
    regularizer = next(t for t in assignments["ex3_activation_maximization"].tasks
                       if t.grade_id == "regularizer_tests")
    assert regularizer.checks == (("blur", "l2_decay"),)
    assert _hidden_checks('x = 1\nhidden_check("jitter", f)\nchecks.hidden_check("blur", g)') == (
        ("jitter",), ("blur",))


def test_the_notebook_run_keeps_the_assignment_and_notes_what_looks_wrong():
    assignment = load_assignments(INSTRUCTOR)[EX2]
    submission = _answered(EX2, {
        "content_loss_solution": "import nstutils\ndef my_content_loss(f, p):\n"
                                 "    return 0.5 * nstutils.content_loss(f, p, 'sum')",
        "content_gradient_solution": "get_ipython().set_custom_exc((BaseException,), None)"})
    submission.cells.append(nbformat.v4.new_code_cell("def helper(): pass"))
    for cell in submission.cells:   # a student may edit a locked cell: it is not used
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "content_loss_tests":
            cell.source = "pass"
    run, notes = build_notebook(assignment, submission)
    sources = [c.source for c in run.cells]
    assert any('hidden_check("content_loss", my_content_loss)' in s for s in sources)
    assert "pass" not in sources and all(c.get("outputs", []) == [] for c in run.cells)
    assert any("calls the package's own content_loss" in n for n in notes)
    assert any("tampering suspected in content_gradient_solution: uses set_custom_exc" in n
               for n in notes)
    assert any("1 code cell(s) outside the solution cells were added or changed" in n for n in notes)
    for name, each in load_assignments(INSTRUCTOR).items():   # the solutions raise no flag
        solved = nbformat.read(INSTRUCTOR / f"{name}.ipynb", as_version=4)
        assert build_notebook(each, solved)[1] == [], name


def test_records_that_are_not_records_are_counted_not_trusted(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"check": "jitter", "case": 0, "value": [1.0], "error": null}\n'
                    "✔ all hidden checks passed\n"
                    '{"check": "jitter"}\n'
                    '{"check": "jitter", "case": 0, "value": null, "error": "boom"}\n')
    by_case, unreadable = read_records(path)
    assert unreadable == 2
    assert by_case[("jitter", 0)] == [([1.0], None), (None, "boom")]


def test_hidden_answers_depend_on_the_seed_and_repeat_for_the_same_seed():
    first, again, other = (hidden_answers("gram_matrix", s) for s in (1, 1, 2))
    assert all(a.equal(b) for a, b in zip(first, again))
    assert any(a.shape != b.shape or not a.equal(b) for a, b in zip(first, other))
    assert plain([(3, 4), (6, 8)]) == [[3.0, 4.0], [6.0, 8.0]]
    with pytest.raises(ValueError, match="regular list of numbers"):
        plain([[1, 2], [3]])


def test_handout_writes_only_the_student_notebooks(tmp_path):
    written = handout(tmp_path / "publish")
    assert sorted(p.name for p in (tmp_path / "publish").iterdir()) == sorted(
        p.name for p in INSTRUCTOR.glob("*.ipynb"))
    for path in written:
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    with pytest.raises(ValueError, match="inside the instructor folder"):
        handout(INSTRUCTOR / "out")


def test_the_exercise_questions_live_outside_the_cells_nbgrader_replaces():
    for path in INSTRUCTOR.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "markdown":
                assert cell.source.strip() == "YOUR ANSWER HERE", (path.name, meta["grade_id"])


# --- the sandbox -------------------------------------------------------------------------------

@pytest.mark.notebook
def test_a_confined_run_writes_only_in_its_folder_and_cannot_read_the_hidden_one(tmp_path):
    folder, hidden, outside = tmp_path / "run", tmp_path / "instructor", tmp_path / "outside.txt"
    folder.mkdir()
    hidden.mkdir()
    (hidden / "solution.txt").write_text("the answers")
    nbformat.write(_notebook(
        "import os, socket, subprocess",
        f"open({str(outside)!r}, 'w').write('escaped')",
        f"print(open({str(hidden / 'solution.txt')!r}).read())",
        f"open({str(hidden / 'planted.txt')!r}, 'w').write('x')",
        "socket.create_connection(('127.0.0.1', 9), timeout=2)",
        "open('mine.txt', 'w').write('allowed')",
        "big = bytearray(8 * 2 ** 30)",
        f"os.kill({os.getpid()}, 0)",   # may it signal the grader?
        "subprocess.Popen(['sleep', '600'], start_new_session=True)",
        "import time\nwhile True:\n    time.sleep(0.1)"), folder / "nb.ipynb")
    run = run_confined(folder / "nb.ipynb", folder, Limits(seconds=40, memory_mb=3072),
                       hidden=(hidden,))
    assert run.status == "timeout"
    if "files" not in run.confinement:
        pytest.skip(f"this kernel offers no Landlock (confinement: {run.confinement})")
    outputs = [c.get("outputs", []) for c in nbformat.read(folder / EXECUTED, as_version=4).cells]
    assert [o[0].get("ename") if o else None for o in outputs[1:8]] == [
        "PermissionError", "PermissionError", "PermissionError", "PermissionError", None,
        "MemoryError", "PermissionError" if "no signals out" in run.confinement else None]
    assert not outside.exists() and not (hidden / "planted.txt").exists()
    assert (folder / "mine.txt").read_text() == "allowed"
    stray = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
    assert stray.stdout.strip() == "", "a process the run started outlived it"


# --- a whole batch, as a teacher runs it ----------------------------------------------------------

CHEATS = {
    # Swallow every error (the hidden tests' too), with stubs: content loss wrong, gradient right.
    "swallow": {"content_loss_solution": "get_ipython().set_custom_exc((BaseException,), "
                                         "lambda *a, **k: None)\ndef my_content_loss(f, p):\n"
                                         "    return f.sum()",
                "content_gradient_solution": SOLVED_GRADIENT},
    # Patch the checks and AssertionError, and forge records: wrong numbers, and text.
    "forge": {"content_loss_solution": (
        "import builtins, json, os\nimport nstutils.checks as checks\n"
        "checks.hidden_check = lambda *a, **k: print('✔ all hidden cases match')\n"
        "checks.check = checks.hidden_check\n"
        "builtins.AssertionError = type('Never', (Exception,), {})\n"
        "with open(os.environ['NSTUTILS_GRADING_RECORDS'], 'a') as f:\n"
        "    for case in range(4):\n"
        "        f.write(json.dumps({'check': 'content_loss', 'case': case, 'value': [0.0]}) + '\\n')\n"
        "    f.write('content_gradient_tests passed\\n')\n"
        "def my_content_loss(f, p):\n    return f.sum()"),
              "content_gradient_solution": "def my_content_gradient(f, p):\n    return f"},
    # Copy the instructor's solution at grading time (and plant a file beside it) ...
    "copy": {"content_loss_solution": (
        "import json\ntry:\n    open('INSTRUCTOR/planted.txt', 'w').write('x')\nexcept OSError:\n"
        "    pass\nsrc = open('INSTRUCTOR/ex2_content_loss.ipynb').read()\n"
        "exec(json.loads(src)['cells'][6]['source'])"),
             # ... and a gradient that passes the visible check only (its batch of 2).
             "content_gradient_solution": "def my_content_gradient(f, p):\n"
                                          "    return f - p if f.shape[0] == 2 else 2 * (f - p)"},
    "exit": {"content_loss_solution": SOLVED_LOSS,
             "content_gradient_solution": "import os\nos._exit(0)"},
    "loop": {"content_loss_solution": "while True:\n    pass"},
}


@pytest.mark.notebook
def test_a_batch_gives_each_submission_exactly_the_points_it_computed(tmp_path):
    instructor = tmp_path / "instructor"   # a copy: a failing sandbox must not touch the repository
    shutil.copytree(INSTRUCTOR, instructor)
    subs = tmp_path / "submissions"
    subs.mkdir()
    files = []
    for name, answers in [*CHEATS.items(), ("solved", {"content_loss_solution": SOLVED_LOSS,
                                                        "content_gradient_solution": SOLVED_GRADIENT}),
                          ("blank", {})]:
        answers = {k: v.replace("INSTRUCTOR", str(instructor)) for k, v in answers.items()}
        nbformat.write(_answered(EX2, answers), subs / f"{name}.ipynb")
        files.append(subs / f"{name}.ipynb")
    (subs / "broken.ipynb").write_text('{"cells": [')
    files.insert(4, subs / "broken.ipynb")   # between the kernel exit and the endless loop
    before = sorted(p.name for p in tmp_path.rglob("*"))
    graded, seed = grade_batch(files, load_assignments(instructor), Limits(seconds=75), seed=11,
                               instructor_dir=instructor, progress=lambda line: None)
    points = {r.path.stem: (r.points.get("content_loss_tests"), r.points.get("content_gradient_tests"))
              for r in graded}
    assert points == {"swallow": (0, 2), "forge": (0, 0), "copy": (0, 0), "exit": (2, 0),
                      "broken": (None, None), "loop": (0, 0), "solved": (2, 2), "blank": (0, 0)}
    by_name = {r.path.stem: r for r in graded}
    assert by_name["loop"].status == "timeout" and by_name["exit"].status == "kernel died"
    assert by_name["solved"].status == "finished" and by_name["solved"].reasons == []
    assert "not reached: the time limit" in by_name["loop"].reasons[0]
    assert "not reached: the kernel stopped" in by_name["exit"].reasons[0]
    assert "did not run" in by_name["swallow"].reasons[0]  # the visible check stopped the cell
    assert "relative error" in by_name["copy"].reasons[-1]  # its wrong gradient, judged
    assert any("unreadable lines" in n for n in by_name["forge"].notes)
    assert by_name["broken"].status == "not graded"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "a run wrote outside its folder"

    write_gradebook(graded, tmp_path / "gradebook.csv", seed)
    rows = list(csv.reader(open(tmp_path / "gradebook.csv", encoding="utf-8")))
    assert rows[0][:4] == ["submission", "assignment", "content_loss_tests", "content_gradient_tests"]
    solved_row = next(r for r in rows if r[0].endswith("solved.ipynb"))
    assert solved_row[1:6] == [EX2, "2", "2", "4", "4"]
    assert rows[-1] == ["seed 11"]


@pytest.mark.notebook
def test_the_command_line_grades_a_folder_and_writes_the_gradebook(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(_answered(EX2, {"content_loss_solution": SOLVED_LOSS}), subs / "alice.ipynb")
    (subs / "notes.ipynb").write_text("my notes")
    assert main(["grade", str(subs), "--gradebook", str(tmp_path / "book.csv"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "alice.ipynb" in out and "2/4" in out and "not a readable notebook" in out
    assert "--seed 3" in out
    rows = list(csv.reader(open(tmp_path / "book.csv", encoding="utf-8")))
    assert [r[0].rsplit("/", 1)[-1] for r in rows[1:3]] == ["alice.ipynb", "notes.ipynb"]
    assert main(["grade", str(subs), "--time-limit", "0"]) == 2
    assert main(["grade", str(subs), "--gradebook", str(tmp_path / "no" / "book.csv")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty")]) == 2
    assert "no notebooks" in capsys.readouterr().err


# --- nbgrader, for real ------------------------------------------------------------------------

@pytest.mark.notebook
def test_nbgrader_releases_the_questions_and_autogrades_solved_and_blank(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is in the dev extras")
    course = tmp_path / "course"
    (course / "source" / EX2).mkdir(parents=True)
    shutil.copy(INSTRUCTOR / f"{EX2}.ipynb", course / "source" / EX2)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.ExecutePreprocessor.timeout = 300\n"
        "c.CourseDirectory.db_assignments = [dict(name=%r)]\n"
        "c.CourseDirectory.db_students = [dict(id='alice'), dict(id='bob')]\n" % (str(course), EX2))
    env = {**os.environ, "NSTUTILS_QUICK": "1",   # nbgrader runs alembic from the PATH
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def nbgrader(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    nbgrader("db", "assignment", "add", EX2)
    nbgrader("db", "student", "add", "alice")
    nbgrader("db", "student", "add", "bob")
    nbgrader("generate_assignment", EX2, "--force")
    released = course / "release" / EX2 / f"{EX2}.ipynb"
    assert "BEGIN SOLUTION" not in released.read_text()
    for student, answers in [("alice", {"content_loss_solution": SOLVED_LOSS,
                                        "content_gradient_solution": SOLVED_GRADIENT}),
                             ("bob", {})]:
        nb = nbformat.read(released, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        (course / "submitted" / student / EX2).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / EX2 / f"{EX2}.ipynb")
    nbgrader("autograde", EX2, "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        scores = {s: book.find_submission(EX2, s).score for s in ("alice", "bob")}
    assert scores == {"alice": 4.0, "bob": 0.0}
