"""Progress bars: a text bar outside Jupyter, a one-line summary that replaces the widget inside."""

import re

import IPython.display
import pytest
import torch

from nstutils import optim, progress
from nstutils.optim import optimize
from nstutils.progress import Progress, format_seconds, in_notebook, track


def test_outside_jupyter_it_is_a_text_bar_on_stderr_that_clears_itself(capsys):
    assert not in_notebook()
    with Progress(4, "demo") as bar:
        for done in range(1, 5):
            bar.update(done, f"loss {1 / done:.2f}")
    err = capsys.readouterr().err
    assert err.startswith("\rdemo:") and "/4 [" in err  # tqdm redraws at most every 0.1 s
    assert err.endswith("\r")  # leave=False: the line is wiped at the end
    assert re.fullmatch(r"demo: 4 steps in \d+\.\d s, loss 0\.25", bar.summary)


def test_a_run_stopped_early_says_so_and_disabled_bars_print_nothing(capsys):
    with Progress(10, "style transfer", enabled=False) as bar:
        bar.update(3, "loss 2")
    assert bar.summary.startswith("style transfer: stopped after 3 of 10 steps in ")
    assert capsys.readouterr() == ("", "")


def test_track_yields_every_item_and_ends_its_bar_when_the_loop_is_left(capsys):
    assert list(track(range(5), "frames", unit="frames", enabled=False)) == [0, 1, 2, 3, 4]
    for k in track(iter("abc"), "letters", total=3):
        if k == "b":
            break
    assert "letters" in capsys.readouterr().err


def test_in_a_notebook_the_widget_is_replaced_by_its_summary(monkeypatch):
    shown = []

    class Handle:
        def update(self, data, raw=False):
            shown.append((data, raw))

    def display(obj, display_id=False):
        shown.append((type(obj).__name__, display_id))
        return Handle()

    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    with Progress(20, "texture synthesis") as bar:
        bar.update(20, "loss 0.5")
    assert shown[0][1] is True  # displayed with a display id, so it can be replaced
    assert shown[-1] == ({"text/plain": bar.summary}, True)
    assert bar.summary.startswith("texture synthesis: 20 steps in ") and bar.summary.endswith("loss 0.5")


def test_ctrl_c_still_stops_optimize_and_its_bar_says_where(monkeypatch):
    bars = []

    class Recorded(Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(optim, "Progress", Recorded)
    x, ticks = torch.ones(1), iter(range(3))

    def loss():
        if next(ticks, None) is None:  # the fourth step: the user presses stop
            raise KeyboardInterrupt
        return x.pow(2).sum()

    history = optimize(x, loss, 50, lr=0.1, log_every=1, desc="demo run")
    assert history.interrupted and history.steps == 3
    assert bars[0].summary.startswith("demo run: stopped after 3 of 50 steps in ")


@pytest.mark.parametrize("seconds, text", [(0.42, "0.4 s"), (41.3, "41 s"), (185, "3 min 05 s")])
def test_durations_read_like_a_person_says_them(seconds, text):
    assert format_seconds(seconds) == text
