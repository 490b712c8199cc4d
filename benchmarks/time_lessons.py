"""Time every lesson at full size, the way a class meets it: wall time and the slowest cells.

Each notebook runs top to bottom in a fresh kernel (full mode, not quick mode), as
``nst course --html`` runs it. With ``--busy`` a second process keeps one core busy throughout,
like the browser or second notebook on a student's laptop.

Run:  python benchmarks/time_lessons.py [--busy] [--only 02 07] [--notebooks notebooks]
      [--cell-timeout 900]
"""

import argparse
import os
import platform
import sys
import time
from datetime import date, datetime
from pathlib import Path

import nbformat

import nstutils.course
from nstutils.course import find_notebooks, run_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from busy import busy_process  # noqa: E402

GOAL_S = 180


def cell_seconds(nb: nbformat.NotebookNode) -> list[tuple[int, float, str]]:
    """(index, seconds, first line) of every executed code cell, from nbclient's timing metadata."""
    out = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing:
            end = timing.get("shell.execute_reply") or timing.get("iopub.status.idle")
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00")))
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            out.append((i, seconds.total_seconds(), first.strip()[:48]))
    return out


def time_notebook(path: Path) -> tuple[float, list[tuple[int, float, str]], str]:
    """Run one notebook at full size; (wall seconds, per-cell seconds, error or '')."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = ""
    try:
        run_notebook(nb, path.parent, quick=False)
    except Exception as err:  # noqa: BLE001 - reported in the table, the others still run
        error = type(err).__name__
    return time.perf_counter() - start, cell_seconds(nb), error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", action="store_true", help="a second busy process beside")
    parser.add_argument("--only", nargs="+", default=None, help="notebook number prefixes")
    parser.add_argument("--notebooks", default=str(Path(__file__).resolve().parent.parent
                                                   / "notebooks"))
    parser.add_argument("--cell-timeout", type=int, default=nstutils.course.CELL_TIMEOUT_S,
                        help="seconds before a cell counts as hung (default %(default)s)")
    args = parser.parse_args()
    nstutils.course.CELL_TIMEOUT_S = args.cell_timeout
    paths = [p for p in find_notebooks(args.notebooks, exercises=False)
             if not args.only or p.stem.split("_")[0] in args.only]
    rows, total = [], 0.0
    with busy_process(args.busy):
        for path in paths:
            wall, cells, error = time_notebook(path)
            total += wall
            rows.append((path.stem, wall, sorted(cells, key=lambda c: -c[1])[:3], error))
            print(f"{path.stem}: {wall:.0f} s {error}", file=sys.stderr, flush=True)
    machine = "one busy process beside" if args.busy else "quiet"
    print(f"{date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{machine}; goal {GOAL_S} s per lesson\n")
    print("| notebook | wall s | slowest cells (index: s, first line) |")
    print("| --- | ---: | --- |")
    for stem, wall, slowest, error in rows:
        cells = "; ".join(f"[{i}] {s:.0f} s `{first}`" for i, s, first in slowest)
        flag = " **over**" if wall > GOAL_S else ""
        print(f"| {stem} | {wall:.0f}{flag}{' ' + error if error else ''} | {cells} |")
    print(f"| **whole course** | {total:.0f} | |")


if __name__ == "__main__":
    main()
