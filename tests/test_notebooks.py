"""The notebooks are tests: each runs top to bottom headless in quick mode, and is kept clean."""

import json
import re
from pathlib import Path

import pytest

from nstutils.course import execute_notebook, find_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = find_notebooks(ROOT / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]
MAX_CODE_LINES = 15


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_lessons_are_numbered_in_order_and_each_is_in_the_readme_table():
    lessons = [p.stem for p in find_notebooks(ROOT / "notebooks", exercises=False)]
    assert [int(stem.split("_", 1)[0]) for stem in lessons] == list(range(len(lessons)))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"^\| `(\d\d_\w+)` \|", readme, flags=re.MULTILINE) == lessons


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs_or_execution_counts(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_a_parameters_cell_with_quick_mode_and_short_code_cells(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "quick_mode()" in "".join(params[0]["source"]), path.name
    for cell in code:
        lines = [ln for ln in "".join(cell["source"]).splitlines() if ln.strip()]
        assert len(lines) <= MAX_CODE_LINES, f"{path.name}: a code cell has {len(lines)} lines"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_headless_in_quick_mode(path):
    execute_notebook(path, quick=True)  # raises CellExecutionError, with the cell, on any error
