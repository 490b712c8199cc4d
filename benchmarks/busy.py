"""A second busy process beside a benchmark: the normal case on a student's 2-core laptop."""

import contextlib
import multiprocessing
from collections.abc import Iterator


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy_process(enabled: bool = True) -> Iterator[None]:
    """Keep one core busy with a pure-Python loop in another process while the block runs.

    Args:
        enabled: False makes it a no-op, so callers can switch it with a flag.
    """
    if not enabled:
        yield
        return
    process = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
    process.start()
    try:
        yield
    finally:
        process.terminate()
        process.join()
