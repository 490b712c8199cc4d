"""Progress bars that leave a saved notebook clean: a finished run becomes one line of text.

In Jupyter a live ``tqdm`` widget shows the run; when the run ends, the same output is replaced
(through its display id) by a plain-text summary such as ``style transfer: 300 steps in 41 s,
loss 0.93``. A reopened notebook or an HTML hand-out then shows that line instead of a widget
whose model is gone ("Error displaying widget: model not found"). Elsewhere (a terminal, the
command line) it is tqdm's text bar, which clears itself when done.
"""

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm as text_bar

T = TypeVar("T")


def in_notebook() -> bool:
    """Return True when running in a Jupyter kernel (JupyterLab, Colab, VS Code, nbclient).

    Returns:
        bool: True in a kernel whose front end can show widgets and replace outputs.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def format_seconds(seconds: float) -> str:
    """Write a duration the way a person says it: ``0.4 s``, ``41 s``, ``3 min 05 s``.

    Args:
        seconds: the duration.

    Returns:
        str: the duration in words.
    """
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Progress:
    """A progress bar over ``total`` units of work; a notebook keeps only its summary line.

    Use it as a context manager (or call `close`); `update` takes the number of units done so
    far and an optional note such as ``"loss 0.93"``.
    """

    def __init__(self, total: int, desc: str, unit: str = "steps", enabled: bool = True):
        """Start the bar.

        Args:
            total: units of work in the whole run.
            desc: what runs, the summary's first words ("style transfer").
            unit: what a unit is called in the summary ("steps", "frames", "batches").
            enabled: False shows nothing at all.
        """
        self.total, self.desc, self.unit = total, desc, unit
        self.done, self.note = 0, ""
        self.summary: str | None = None
        self._start = time.perf_counter()
        self._handle = None
        if enabled and in_notebook():
            from IPython.display import display
            from tqdm.notebook import tqdm as widget_bar

            self._bar = widget_bar(total=total, desc=desc, leave=False, display=False)
            self._handle = display(self._bar.container, display_id=True)
        else:
            self._bar = text_bar(total=total, desc=desc, leave=False, disable=not enabled)

    def update(self, done: int, note: str = "") -> None:
        """Move the bar to ``done`` units and show ``note`` beside it.

        Args:
            done: units finished so far (not the increment).
            note: a short text such as ``"loss 0.93"``; kept for the summary.
        """
        self.done, self.note = done, note or self.note
        if note:
            self._bar.set_postfix_str(note, refresh=False)
        self._bar.update(done - self._bar.n)  # tqdm redraws at most every 0.1 s

    def close(self) -> str:
        """End the bar; in a notebook its output becomes the one-line summary.

        Returns:
            str: the summary, e.g. ``"style transfer: 300 steps in 41 s, loss 0.93"``.
        """
        if self.summary is None:
            self.summary = self._summary(time.perf_counter() - self._start)
            if self._handle is not None:
                self._handle.update({"text/plain": self.summary}, raw=True)
            self._bar.close()
            if self._handle is not None:
                _close_widget(self._bar.container)  # shown nowhere now: a saved notebook keeps none of it
        return self.summary

    def _summary(self, elapsed: float) -> str:
        done = (f"{self.done} {self.unit}" if self.done >= self.total
                else f"stopped after {self.done} of {self.total} {self.unit}")
        return f"{self.desc}: {done} in {format_seconds(elapsed)}" + (f", {self.note}" if self.note else "")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _close_widget(widget) -> None:
    """Close a widget with its children, layout and style (closing a box leaves those open)."""
    for part in (*getattr(widget, "children", ()), getattr(widget, "layout", None),
                 getattr(widget, "style", None)):
        if part is not None:
            _close_widget(part)
    widget.close()


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "steps",
          enabled: bool = True) -> Iterator[T]:
    """Loop over ``items`` with a `Progress` bar: ``for k in track(range(n), "zoom frames")``.

    Args:
        items: what the loop runs over.
        desc: the bar's label.
        total: the number of items (default: ``len(items)``).
        unit: what an item is called in the summary.
        enabled: False shows nothing.

    Returns:
        Iterator: the items, one by one; the bar ends when the loop does (or is stopped).
    """
    total = len(items) if total is None else total
    with Progress(total, desc, unit, enabled) as bar:
        for done, item in enumerate(items, 1):
            yield item
            bar.update(done)
