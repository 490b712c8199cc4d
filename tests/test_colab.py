"""Colab, or any Jupyter without the package: every notebook's first cell installs it, from the one
source set in pyproject.toml, and a notebook runs through in an environment that lacks it."""

import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from nstutils.course import QUICK_CELL_TIMEOUT_S, notebook_client
from nstutils.install_cell import (PLACEHOLDER_URL, SOURCE_ENV, cell_source, colab_link,
                                   course_notebooks, pip_source, project_url, with_install_cell)

ROOT = Path(__file__).resolve().parent.parent
ALL = course_notebooks(ROOT / "notebooks")
MAX_CODE_LINES = 15


def _first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(ROOT / "notebooks")) for p in ALL])
def test_every_notebook_starts_with_the_install_cell_of_the_projects_url(path):
    first = _first_code_cell(nbformat.read(path, as_version=4))
    assert first.source == cell_source(pip_source(project_url())), \
        f"{path.name}: run python -m nstutils.install_cell"
    assert len([line for line in first.source.splitlines() if line.strip()]) <= MAX_CODE_LINES


def test_the_repository_url_becomes_a_pip_source_and_colab_links():
    assert pip_source(PLACEHOLDER_URL) == "" and pip_source("") == ""
    assert pip_source("https://github.com/ann/cnn-course") == "git+https://github.com/ann/cnn-course"
    assert pip_source("git+https://gitlab.com/ann/course@v2") == "git+https://gitlab.com/ann/course@v2"
    assert colab_link("https://github.com/ann/cnn-course.git", "notebooks/00_setup_and_tour.ipynb") == (
        "https://colab.research.google.com/github/ann/cnn-course/blob/main/notebooks/00_setup_and_tour.ipynb")
    assert colab_link(PLACEHOLDER_URL, "notebooks/00_setup_and_tour.ipynb") is None
    assert colab_link("https://gitlab.com/ann/course", "notebooks/00_setup_and_tour.ipynb") is None


def test_the_command_inserts_the_cell_once_and_rewrites_it_when_the_source_changes():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title"),
                                         nbformat.v4.new_code_cell("SIZE = 1")])
    assert with_install_cell(nb, "")
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert not with_install_cell(nb, "")
    assert with_install_cell(nb, "git+https://github.com/ann/course")
    assert len(nb.cells) == 3 and nb.cells[1].source == cell_source("git+https://github.com/ann/course")


def _run_install_cell(source: str, monkeypatch, installed: bool) -> tuple[list, dict]:
    """Run the cell as IPython would, recording its line magics instead of running pip."""
    magics = []
    shell = SimpleNamespace(run_line_magic=lambda name, line: magics.append((name, line)))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "nstutils" and not installed
                        else find_spec(name, *args))
    namespace = {"get_ipython": lambda: shell}
    exec(TransformerManager().transform_cell(cell_source(source)), namespace)
    return magics, namespace


def test_where_the_package_is_installed_the_cell_only_imports_it(monkeypatch):
    magics, namespace = _run_install_cell("git+https://github.com/ann/course", monkeypatch, True)
    assert magics == [] and namespace["nst"].__name__ == "nstutils"


def test_without_the_package_it_installs_from_the_url_or_the_environment_variable(monkeypatch, capsys):
    monkeypatch.delenv(SOURCE_ENV, raising=False)
    magics, namespace = _run_install_cell("git+https://github.com/ann/course", monkeypatch, False)
    assert magics == [("pip", 'install --quiet "{SOURCE}"')]
    assert namespace["SOURCE"] == "git+https://github.com/ann/course"
    monkeypatch.setenv(SOURCE_ENV, "/home/teacher/course")
    _, namespace = _run_install_cell("git+https://github.com/ann/course", monkeypatch, False)
    assert namespace["SOURCE"] == "/home/teacher/course"
    assert "Installing the course package from /home/teacher/course" in capsys.readouterr().out


def test_without_the_package_or_a_source_it_stops_and_says_what_to_set(monkeypatch):
    monkeypatch.delenv(SOURCE_ENV, raising=False)
    with pytest.raises(RuntimeError, match=f"%env {SOURCE_ENV}=git\\+<the course's repository URL>"):
        _run_install_cell("", monkeypatch, False)


@pytest.fixture
def fresh_python(tmp_path) -> Path:
    """A new virtual environment without nstutils that sees this one's other packages.

    This environment's site-packages is added as a plain path (a .pth line): the .pth files inside
    it, among them the editable install of nstutils, are not run there. pip then finds torch,
    jupyter and the rest installed and only builds nstutils.
    """
    env = tmp_path / "fresh-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "course_env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    lacks = subprocess.run([python, "-c", "import nstutils"], capture_output=True, cwd=tmp_path)
    assert lacks.returncode != 0, "the fresh environment must not see nstutils"
    return python


@pytest.mark.notebook
def test_a_notebook_installs_the_package_in_a_fresh_environment_and_runs_through(
        fresh_python, tmp_path, monkeypatch):
    source = tmp_path / "course"  # the checkout, without its virtual environment or build files
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "nstutils", source / "nstutils", ignore=shutil.ignore_patterns("__pycache__"))
    spec = tmp_path / "jupyter" / "kernels" / "fresh-env"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(fresh_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh environment", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv(SOURCE_ENV, str(source))
    monkeypatch.setenv("PIP_NO_INDEX", "1")             # everything else is there: no download
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")   # pip's way of saying --no-build-isolation
    monkeypatch.setenv("NSTUTILS_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(ROOT / "notebooks" / "00_setup_and_tour.ipynb", as_version=4)
    notebook_client(nb, tmp_path, QUICK_CELL_TIMEOUT_S, kernel_name="fresh-env").execute()
    printed = "".join(o.get("text", "") for o in _first_code_cell(nb).outputs)
    assert f"Installing the course package from {source}" in printed
    where = subprocess.run([fresh_python, "-c", "import nstutils; print(nstutils.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert where.startswith(str(fresh_python.parent.parent))
