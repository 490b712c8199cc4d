"""The ``nst`` command line: ``nst course`` opens the course or renders it to HTML."""

import argparse
import subprocess
import sys
from pathlib import Path

REPO_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _notebooks_folder(given: str | None) -> Path:
    folder = Path(given) if given else (Path("notebooks") if Path("notebooks").is_dir()
                                        else REPO_NOTEBOOKS)
    if not folder.is_dir():
        raise SystemExit(f"nst: no notebooks folder at {folder}; pass --notebooks PATH.")
    return folder


def course(args: argparse.Namespace) -> int:
    """Open the notebooks in JupyterLab, or with --html execute them all and write HTML."""
    folder = _notebooks_folder(args.notebooks)
    if args.html:
        from .course import export_html

        written = export_html(folder, args.html, quick=args.quick)
        print(f"nst: wrote {len(written)} HTML files to {args.html}")
        return 0
    return subprocess.call([sys.executable, "-m", "jupyter", "lab", str(folder)])


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subcommand per task."""
    parser = argparse.ArgumentParser(prog="nst", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("course", help="open the course in JupyterLab, or render it to HTML")
    p.add_argument("--html", metavar="DIR", help="execute every notebook headless and write "
                   "HTML with the figures into DIR (no browser needed)")
    p.add_argument("--quick", action="store_true", help="small sizes and few steps")
    p.add_argument("--notebooks", metavar="DIR", help="the notebooks folder (default: ./notebooks)")
    p.set_defaults(func=course)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
