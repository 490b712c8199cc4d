"""The install story (one dependency list, the README's commands, CI) and the import rules."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", readme, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_environment_yml_installs_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = (ROOT / "environment.yml").read_text()
    pip_section = env.split("- pip:", 1)[1]
    listed = {line.strip() for line in re.findall(r"^\s+- (.+)$", pip_section, re.M)}
    assert "python=3.11" in env
    listed.discard('-e ".[dev]"')
    assert listed == wanted


def test_quick_start_has_exactly_three_commands():
    assert _quick_start_commands() == ['pip install -e ".[dev]"', "nst course", "python -m pytest"]
    readme = (ROOT / "README.md").read_text()
    assert "nst course --html course_html" in readme  # the headless variant


def test_ci_runs_the_readme_install_and_test_commands():
    install, _, test = _quick_start_commands()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci and test in ci
    assert ci.index(install) < ci.index(test)


# Imports each module with the package's __init__ skipped (it imports the plotting modules for
# the notebooks' convenience), then lists what pulled matplotlib in.
_IMPORT_ALONE = """
import importlib, sys, types
package = types.ModuleType("nstutils")
package.__path__ = [sys.argv[1]]
sys.modules["nstutils"] = package
for name in sys.argv[2:]:
    importlib.import_module("nstutils." + name)
    if "matplotlib" in sys.modules:
        print(name)
        break
"""


def test_only_the_plotting_modules_import_matplotlib():
    folder = ROOT / "nstutils"
    computing = [p.stem for p in sorted(folder.glob("*.py"))
                 if p.stem != "__init__" and not p.stem.startswith("plot")]
    assert {"images", "models", "download", "data", "course"} <= set(computing)
    run = subprocess.run([sys.executable, "-c", _IMPORT_ALONE, str(folder), *computing],
                         capture_output=True, text=True, check=True)
    assert run.stdout == "", f"nstutils.{run.stdout.strip()} imports matplotlib"

