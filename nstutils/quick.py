"""Quick mode: the test suite runs every notebook with small sizes and few steps."""

import os

QUICK_ENV = "NSTUTILS_QUICK"


def quick_mode() -> bool:
    """Return True when the environment variable NSTUTILS_QUICK is set to 1 (or yes/true).

    Returns:
        bool: notebooks read it in their parameters cell to shrink sizes and steps.
    """
    return os.environ.get(QUICK_ENV, "").strip().lower() in ("1", "yes", "true")
