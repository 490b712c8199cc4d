"""Shared cores: nstutils leaves half the CPUs free and lets idle threads sleep, in every process."""

import os
import subprocess
import sys

import pytest

ALL = str(os.cpu_count() or 2)
HALF = str(max(1, int(ALL) // 2))
REPORT = "import os, torch; print(torch.get_num_threads(), os.environ.get('OMP_WAIT_POLICY'))"


def _run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("imports", ["import nstutils; import torch", "import torch; import nstutils"])
def test_half_the_cpus_and_passive_waiting_whichever_is_imported_first(imports):
    assert _run(f"{imports}; {REPORT}") == f"{HALF} PASSIVE"


def test_a_thread_count_the_user_set_is_kept():
    assert _run(f"import nstutils; {REPORT}", OMP_NUM_THREADS=ALL) == f"{ALL} PASSIVE"
    assert _run(f"import torch; import nstutils; {REPORT}", OMP_NUM_THREADS=ALL,
                OMP_WAIT_POLICY="ACTIVE") == f"{ALL} ACTIVE"


def test_a_kernel_started_by_the_course_has_the_settings_even_when_torch_comes_first():
    code = ("import nbformat\n"
            "from nstutils.course import run_notebook\n"
            f"nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell({REPORT!r})])\n"
            "run_notebook(nb, '.', quick=True)\n"
            "print(nb.cells[0].outputs[0]['text'].strip())\n")
    assert _run(code) == f"{HALF} PASSIVE"
