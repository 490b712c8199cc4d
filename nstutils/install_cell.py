"""The first code cell of every notebook: on Colab, or any Jupyter without the course package, it
installs the package, then imports it; where the package is installed it only imports it.

Where the package comes from is set once, as ``Source`` in ``[project.urls]`` of pyproject.toml
(the repository where the teacher publishes the course). A notebook cannot read that file before
the package is there, so the URL is written into every notebook's first cell by::

    python -m nstutils.install_cell

which also prints the "Open in Colab" link of each notebook that students open. A test fails
when a notebook's first cell is not `cell_source` of that URL. ``NSTUTILS_SOURCE`` in the
kernel's environment overrides the URL (a fork, a mirror, a local folder: anything
``pip install`` takes).
"""

import sys
from pathlib import Path

import nbformat

SOURCE_ENV = "NSTUTILS_SOURCE"
PLACEHOLDER_URL = "https://github.com/OWNER/REPO"
TAG = "install"  # the cell's tag, so the command finds it again
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def project_url(pyproject: str | Path = ROOT / "pyproject.toml") -> str:
    """Read the course's repository URL, ``[project.urls] Source``, from pyproject.toml.

    Args:
        pyproject: the project file.

    Returns:
        str: the URL as written there (the placeholder until a teacher sets it).
    """
    import tomllib

    with open(pyproject, "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Source"]


def pip_source(url: str) -> str:
    """Turn the repository URL into what ``pip install`` takes.

    Args:
        url: a git repository's URL (``https://github.com/owner/repo``), or already a pip
            requirement such as ``git+https://...@v2`` or an archive's URL.

    Returns:
        str: ``git+URL`` for a plain repository URL; ``""`` while the URL is the placeholder.
    """
    if not url or url.rstrip("/") == PLACEHOLDER_URL:
        return ""
    if "+" in url.split("://", 1)[0] or url.endswith((".zip", ".tar.gz", ".whl")):
        return url
    return f"git+{url}"


def cell_source(source: str) -> str:
    """The install cell's code.

    Args:
        source: what to ``pip install`` when the package is missing; ``""`` makes the cell stop
            with a message that says to set ``NSTUTILS_SOURCE``.

    Returns:
        str: the cell's code (under 15 lines).
    """
    return f'''\
# On Colab, or any Jupyter without the course package: install it (once), then import it.
import importlib.util
import os

if importlib.util.find_spec("nstutils") is None:
    SOURCE = os.environ.get("{SOURCE_ENV}", "{source}")
    if not SOURCE:
        raise RuntimeError("The course package nstutils is not installed and its source is not set: run "
                           "%env {SOURCE_ENV}=git+<the course's repository URL>, then this cell again.")
    print(f"Installing the course package from {{SOURCE}} (a minute or two) ...")
    %pip install --quiet "{{SOURCE}}"
    importlib.invalidate_caches()
import nstutils as nst'''


def colab_link(url: str, notebook: str | Path, branch: str = "main") -> str | None:
    """The "Open in Colab" link of a notebook in a GitHub repository.

    Args:
        url: the repository's URL, ``https://github.com/OWNER/REPO``.
        notebook: the notebook's path inside the repository (``notebooks/00_setup_and_tour.ipynb``).
        branch: the branch students open.

    Returns:
        str | None: the link, or None when the repository is not on GitHub (or not set).
    """
    prefix = "https://github.com/"
    if not pip_source(url) or not url.startswith(prefix):
        return None
    repo = url[len(prefix):].rstrip("/").removesuffix(".git")
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{Path(notebook).as_posix()}"


def with_install_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    """Make a notebook's first code cell the install cell of ``source``, in place.

    Args:
        nb: the notebook.
        source: what the cell installs from (see `cell_source`).

    Returns:
        bool: True when the notebook changed.
    """
    code = cell_source(source)
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first is not None and TAG in first.metadata.get("tags", []):
        changed, first.source = first.source != code, code
        return changed
    cell = nbformat.from_dict({"cell_type": "code", "execution_count": None,
                               "metadata": {"tags": [TAG]}, "outputs": [], "source": code})
    nb.cells.insert(nb.cells.index(first) if first is not None else len(nb.cells), cell)
    return True


def course_notebooks(folder: str | Path = NOTEBOOKS) -> list[Path]:
    """Every notebook of the course: lessons, and both versions of the exercises.

    Args:
        folder: the ``notebooks/`` folder.

    Returns:
        list[Path]: the .ipynb files, sorted.
    """
    return sorted(p for p in Path(folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def main() -> int:
    """Write the install cell of pyproject.toml's URL into every notebook; print students' Colab links.

    Returns:
        int: the exit status, 1 while the URL is still the placeholder.
    """
    url = project_url()
    source = pip_source(url)
    for path in course_notebooks():
        nb = nbformat.read(path, as_version=4)
        if with_install_cell(nb, source):
            nbformat.write(nb, path)
            print(f"updated {path.relative_to(ROOT)}")
        link = colab_link(url, path.relative_to(ROOT))
        if link and "instructor" not in path.parts:  # those hold the solutions
            print(f"  {link}")
    if not source:
        print(f"[project.urls] Source in pyproject.toml is still {PLACEHOLDER_URL}: set it to where "
              "the course is published and run this again.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
