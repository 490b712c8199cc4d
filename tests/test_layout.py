"""The package's layout: no import cycles, figures apart from computing, a documented API."""

import ast
import subprocess
import sys
from pathlib import Path

import nstutils as nst

PACKAGE = Path(nst.__file__).resolve().parent


def _imports_of(path: Path) -> tuple[set[str], set[str]]:
    """The package modules and the outside top-level packages a module imports, anywhere in it."""
    inside, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                inside.add(node.module.split(".")[0])
            else:  # from . import plot
                inside.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outside.update(alias.name.split(".")[0] for alias in node.names)
    return inside, outside


MODULES = {p.stem: _imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def test_no_module_imports_itself_back_through_others():
    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for name in MODULES[start][0] & set(MODULES):
            if name == target or (name not in seen and reaches(name, target, seen | {name})):
                return True
        return False

    cycles = [name for name in MODULES if reaches(name, name, {name})]
    assert cycles == []


def test_only_the_plotting_modules_import_matplotlib():
    drawing = sorted(name for name, (_, outside) in MODULES.items() if "matplotlib" in outside)
    assert drawing and all(name.startswith("plot") for name in drawing), drawing


def test_importing_a_computing_module_loads_neither_plotting_nor_style_transfer():
    code = ("import sys, nstutils.objectives, nstutils.attribution, nstutils.dream; "
            "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'nstutils.style', "
            "'nstutils.plot'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_says_what_it_is():
    assert len(nst.__all__) == len(set(nst.__all__))
    for name in nst.__all__:
        value = getattr(nst, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert set(nst.__all__) <= set(dir(nst))
