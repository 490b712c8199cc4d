"""The notebooks are tests: each runs top to bottom headless in quick mode, and is kept clean."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nstutils.course import execute_notebook, find_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = find_notebooks(ROOT / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]
MAX_CODE_LINES = 15
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _parameters(path) -> dict:
    """The parameters cell's names and values, checking it is only ``NAME = literal`` lines."""
    cell = next(c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        assert (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)), f"{path.name}: {ast.unparse(node)}"
        values[node.targets[0].id] = ast.literal_eval(node.value)  # raises on anything computed
    return values


def test_lessons_are_numbered_in_order_and_each_is_in_the_readme_table():
    lessons = [p.stem for p in find_notebooks(ROOT / "notebooks", exercises=False)]
    numbers = [re.match(r"(\d\d)(b?)_", stem).groups() for stem in lessons]
    firsts = [int(number) for number, part in numbers if not part]
    assert firsts == list(range(len(firsts)))
    for (number, part), before in zip(numbers[1:], numbers):  # a part b right after its lesson
        assert not part or (number, "") == before, lessons
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"^\| `(\d\db?_\w+)` \|", readme, flags=re.MULTILINE) == lessons


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs_or_execution_counts(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_a_parameters_cell_then_quick_mode_and_short_code_cells(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    tagged = [i for i, c in enumerate(code) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, path.name
    # papermill injects its parameters right after that cell: what they imply is derived next.
    assert "quick_mode()" in "".join(code[tagged[0] + 1]["source"]), path.name
    for cell in code:
        lines = [ln for ln in "".join(cell["source"]).splitlines() if ln.strip()]
        assert len(lines) <= MAX_CODE_LINES, f"{path.name}: a code cell has {len(lines)} lines"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_are_plain_literals_with_the_full_mode_values(path):
    values = _parameters(path)
    assert values["QUICK"] is False and values["SEED"] == 0, path.name


def test_papermill_lists_every_parameter():
    path = ROOT / "notebooks" / "03_deep_dream.ipynb"
    shown = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)],
                           capture_output=True, text=True, check=True).stdout
    listed = re.findall(r"^  (\w+): .*\(default (.*)\)$", shown, flags=re.MULTILINE)
    assert [(name, ast.literal_eval(default)) for name, default in listed] == list(_parameters(path).items())


@pytest.mark.notebook
def test_papermill_quick_true_shrinks_the_sizes(tmp_path, monkeypatch):
    monkeypatch.delenv("NSTUTILS_QUICK", raising=False)
    nb = nbformat.read(ROOT / "notebooks" / "00_setup_and_tour.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('gallery', GALLERY_SIZE)"))
    nbformat.write(nb, tmp_path / "in.ipynb")
    run = subprocess.run([sys.executable, "-m", "papermill", str(tmp_path / "in.ipynb"),
                          str(tmp_path / "out.ipynb"), "-p", "QUICK", "True", "--cwd", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "unknown parameter" not in run.stderr.lower()
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[-1].outputs[0]["text"] == "gallery 128\n"  # 256 at full size
    assert _parameters(ROOT / "notebooks" / "00_setup_and_tour.ipynb")["GALLERY_SIZE"] == 256


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_headless_in_quick_mode_and_leaves_no_progress_bar_widget(path):
    nb = execute_notebook(path, quick=True)  # raises CellExecutionError, with the cell, on any error
    for cell in nb.cells:
        if cell.cell_type == "code" and "widgets." not in cell.source:  # interact cells keep theirs
            assert not any(WIDGET_VIEW in out.get("data", {}) for out in cell.outputs), \
                f"{path.name}: a widget (a progress bar?) was left in the cell {cell.source[:80]!r}"
