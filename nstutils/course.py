"""Run the course's notebooks headless: for the test suite, and to hand out HTML with figures.

The hand-out pages are self-contained and open offline (`nstutils.handout`).
"""

import os
import tempfile
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbclient.output_widget import OutputWidget

from .quick import QUICK_ENV

CELL_TIMEOUT_S = 900        # full sizes on a laptop CPU
QUICK_CELL_TIMEOUT_S = 180  # quick mode: a cell takes seconds, so a hang fails in minutes

# Run at kernel start for a hand-out: an ``interact_manual`` explorer draws once with its
# defaults, as ``interact`` does, so the HTML shows its figure instead of a button nobody can press.
EXPLORERS_DRAW = ("import ipywidgets as _w; _w.interact_manual = _w.widgets.interact_manual = "
                  "_w.widgets.interaction.interact_manual = _w.interact; del _w")


class _OutputWidgetKeptHere(OutputWidget):
    """nbclient's stand-in for an ``Output`` widget, without echoing its outputs to the kernel.

    nbclient sends each output an ``Output`` widget captures (every ``interact`` has one) back to
    the kernel on the shell socket, while it waits for the cell's reply on that same socket. With
    another busy process on the machine, that send can swallow the socket's wake-up, and the reply
    then sits unread until the cell's time limit: notebook 01 waited at an ``interact`` cell in 3
    of 4 full-size runs beside a busy process (ipykernel 6 and 7 alike), and in none of 5 with
    this class. A headless run never reads the widget back in the kernel; the outputs still go
    into the saved notebook's widget state.
    """

    def sync_state(self) -> None:
        """Keep the captured outputs on the client side (see the class docstring)."""


def notebook_client(nb: nbformat.NotebookNode, folder: str | Path, timeout: int,
                    kernel_name: str = "python3", allow_errors: bool = False,
                    km: AsyncKernelManager | None = None,
                    startup: list[str] | None = None) -> NotebookClient:
    """An nbclient client for one headless run, safe with widgets on a busy machine.

    Args:
        nb: the notebook; its cells receive their outputs.
        folder: the kernel's working folder.
        timeout: seconds a cell may take.
        kernel_name: the Jupyter kernel to start.
        allow_errors: run every cell even after one fails.
        km: a kernel manager set up by the caller (the grader's sandbox: IPC, not TCP).
        startup: Python lines the kernel runs before the first cell (none are shown).

    Returns:
        NotebookClient: call ``.execute()`` on it.
    """
    client = NotebookClient(nb, km=km, timeout=timeout, kernel_name=kernel_name,
                            allow_errors=allow_errors, resources={"metadata": {"path": str(folder)}},
                            extra_arguments=[f"--IPKernelApp.exec_lines={line}"
                                             for line in startup or []])
    client.widget_registry["@jupyter-widgets/output"]["OutputModel"] = _OutputWidgetKeptHere
    return client


def find_notebooks(folder: str | Path, exercises: bool = True) -> list[Path]:
    """List the course notebooks in order: ``00_...`` to ``07_...``, then the exercises.

    Args:
        folder: the ``notebooks/`` folder.
        exercises: include the exercises' instructor versions (with their solutions).

    Returns:
        list[Path]: the .ipynb files; the exercises' student versions (which stop at the first
        exercise by design) are left out.
    """
    folder = Path(folder)
    found = sorted(folder.glob("*.ipynb"))
    if exercises:
        found += sorted(folder.glob("exercises/instructor/*.ipynb"))
    return found


def execute_notebook(path: str | Path, quick: bool = True) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom in a fresh kernel, in the notebook's own folder.

    Args:
        path: the .ipynb file.
        quick: set NSTUTILS_QUICK=1 for the kernel (small sizes, few steps).

    Returns:
        NotebookNode: the executed notebook, with outputs.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed; the message shows the cell.
    """
    path = Path(path)
    return run_notebook(nbformat.read(path, as_version=4), path.parent, quick)


def local_kernel_manager(runtime: str | Path) -> AsyncKernelManager | None:
    """A kernel manager that talks to its kernel over local sockets instead of TCP.

    ipykernel 7 warns "Kernel is running over TCP without encryption" at every start; a kernel
    on Unix sockets (IPC) opens no port at all, so the warning does not apply and is not shown.

    Args:
        runtime: a folder for the connection file and the sockets, with a short path (a Unix
            socket's path is limited to about 100 characters).

    Returns:
        AsyncKernelManager for the ``python3`` kernel, or None on Windows (no IPC there:
        nbclient's default TCP kernel, warning included).
    """
    if os.name == "nt":
        return None
    return AsyncKernelManager(transport="ipc", kernel_name="python3",
                              connection_file=str(Path(runtime) / "kernel.json"))


def run_notebook(nb: nbformat.NotebookNode, folder: str | Path, quick: bool = True,
                 allow_errors: bool = False, explorers_draw: bool = False) -> nbformat.NotebookNode:
    """Execute a notebook already in memory, in place, with ``folder`` as its working folder.

    Args:
        nb: the notebook; its cells receive their outputs.
        folder: the kernel's working folder (relative paths in the notebook start there).
        quick: set NSTUTILS_QUICK=1 for the kernel (small sizes, few steps).
        allow_errors: run every cell even after one fails (the errors stay in the outputs).
        explorers_draw: ``interact_manual`` explorers draw once with their defaults, as
            ``interact`` does (for a hand-out, where no button can be pressed).

    Returns:
        NotebookNode: ``nb``, executed.
    """
    previous = os.environ.get(QUICK_ENV)
    os.environ[QUICK_ENV] = "1" if quick else "0"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    try:
        with tempfile.TemporaryDirectory(prefix="nst-kernel-") as runtime:
            client = notebook_client(nb, folder, QUICK_CELL_TIMEOUT_S if quick else CELL_TIMEOUT_S,
                                     allow_errors=allow_errors, km=local_kernel_manager(runtime),
                                     startup=[EXPLORERS_DRAW] if explorers_draw else None)
            client.execute(cleanup_kc=True)  # nbclient keeps a kernel it did not start running
    finally:
        if previous is None:
            os.environ.pop(QUICK_ENV, None)
        else:
            os.environ[QUICK_ENV] = previous
    return nb


def export_html(folder: str | Path, out: str | Path,
                quick: bool = False) -> tuple[list[Path], dict[str, str]]:
    """Execute every lesson notebook and write each as self-contained HTML with its figures.

    The HTML opens offline (`nstutils.handout.handout_html`), and ``interact_manual`` explorers draw once
    with their defaults, so the page shows their figures. A notebook that fails (an error, a
    cell past the time limit, a dead kernel) does not stop the others: its HTML holds the cells
    that ran, and the failure is reported. The exercises are left out: their instructor versions
    hold the solutions.

    Args:
        folder: the ``notebooks/`` folder.
        out: where the HTML files go (created if missing).
        quick: run in quick mode.

    Returns:
        (the HTML files written, notebook name -> why it failed).
    """
    from .handout import handout_html  # nbconvert: only when writing a hand-out

    notebooks = find_notebooks(folder, exercises=False)
    if not notebooks:
        raise FileNotFoundError(f"No notebooks (*.ipynb) in {folder}.")
    out, written, failed = Path(out), [], {}
    for path in notebooks:
        print(f"running {path} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        try:
            run_notebook(nb, path.parent, quick, explorers_draw=True)
        except Exception as err:  # noqa: BLE001 - any failure of one notebook, reported below
            failed[path.stem] = _failure(err)
            print(f"  failed: {failed[path.stem]}", flush=True)
        target = out / path.relative_to(folder).with_suffix(".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(handout_html(nb), encoding="utf-8")
        written.append(target)
        print(f"  wrote {target}", flush=True)
    return written, failed


# --- the hand-out: HTML that needs no network -------------------------------------------------

# The lab template without its scripts: require.js, MathJax, mermaid and the widget manager all
# come from CDNs. Formulas are MathML instead, and widgets their static outputs.
def _failure(err: Exception) -> str:
    """One line saying why a notebook stopped."""
    if isinstance(err, CellTimeoutError):
        return f"a cell ran longer than its time limit ({err})".splitlines()[0]
    if isinstance(err, CellExecutionError):
        return f"{err.ename}: {err.evalue}".splitlines()[0]
    return f"{type(err).__name__}: {err}".splitlines()[0]
