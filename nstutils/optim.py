"""The one optimization loop of the course: it changes images (never weights) to lower a loss.

Feature visualization, DeepDream, feature inversion, texture synthesis and style transfer all
call `optimize`. It shows a progress bar (in a notebook it ends as a one-line summary), records
every loss term so a notebook can plot it, syncs with the device only when the bar updates, stops
cleanly on Ctrl-C / the notebook's stop button, and stops with a clear message when the run
diverges (the loss turns NaN or climbs far above its start, or the image saturates) or the GPU
runs out of memory.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .progress import Progress
from .validate import check_count, check_number

LossTerms = dict[str, torch.Tensor]
# The divergence guard. A loss this many times further from zero than at the start has exploded.
EXPLODED = 1e4
# A value within EDGE of 0 or 1 is saturated (below half a level of an 8-bit image). At the first
# check (after ``log_every`` steps) a run that saturated at least SATURATED of the values that were
# not saturated at the start has diverged: an Adam step moves every value by about ``lr``, so
# lr=1e6 throws every pixel to 0 or 1 at the first step, while the course's runs at their own
# rates (0.01 to 0.05) had saturated at most 4 % of their pixels there (texture synthesis).
EDGE = 1 / 512
SATURATED = 0.9
# How the CPU allocator and MPS word running out of memory (a plain RuntimeError there).
OUT_OF_MEMORY = ("out of memory", "not enough memory", "can't allocate memory")


class OptimizationError(RuntimeError):
    """The optimization went wrong (NaN, exploding loss, saturated image, out of memory) and stopped."""


@dataclass
class History:
    """What happened during `optimize`.

    Attributes:
        losses: term name -> its value after each step (``"total"`` is their sum).
        steps: the number of steps taken.
        interrupted: True when the run was stopped by the user before the last step.
        evaluations: how many times the loss had been evaluated after each step (counting
            from the start): one per step for Adam, more for L-BFGS, whose line search
            evaluates the loss several times in one step.
    """

    losses: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    interrupted: bool = False
    evaluations: list[int] = field(default_factory=list)

    def final(self, name: str = "total") -> float:
        """Return the last recorded value of a loss term."""
        return self.losses[name][-1]

    def extend(self, run: "History") -> None:
        """Append a later run (the next octave or scale), counting its evaluations on from ours."""
        for name, values in run.losses.items():
            self.losses.setdefault(name, []).extend(values)
        done = self.evaluations[-1] if self.evaluations else 0
        self.evaluations.extend(done + n for n in run.evaluations)
        self.steps += run.steps
        self.interrupted = self.interrupted or run.interrupted


def optimize(variables: torch.Tensor | Sequence[torch.Tensor],
             loss_fn: Callable[[], torch.Tensor | LossTerms], steps: int, *,
             optimizer: str = "adam", lr: float = 0.02, lr_decay: float = 1.0,
             after_step: Callable[[], None] | None = None, progress: bool = True,
             desc: str = "optimizing", log_every: int = 10,
             image: Callable[[], torch.Tensor] | None = None,
             weights: Mapping[str, object] | None = None) -> History:
    """Minimize ``loss_fn()`` over ``variables`` in place.

    Args:
        variables: leaf tensors to optimize (they get ``requires_grad``), e.g. a (1, 3, H, W) image.
        loss_fn: returns a scalar tensor, or a dict of named scalar terms that are summed.
        steps: optimizer steps (for L-BFGS, iterations with a line search).
        optimizer: ``"adam"`` or ``"lbfgs"``.
        lr: the learning rate (L-BFGS: its initial step length, 1.0 is usual).
        lr_decay: the learning rate falls along a half cosine to ``lr * lr_decay`` at the last
            step; 1.0 keeps it constant. Small late steps settle the pixels instead of leaving
            them jittering around the minimum.
        after_step: called under ``torch.no_grad`` after each step, e.g. to clamp pixels.
        progress: show a progress bar.
        desc: the progress bar's label.
        log_every: update the bar and check the loss every this many steps (the only syncs).
        image: returns the (N, 3, H, W) image in [0, 1] that the variables make, for the
            saturation check; None: the first variable when it is such an image.
        weights: the loss weights to name when the run diverges, e.g. ``{"style_weight": 10}``.

    Returns:
        History: the loss terms at every step, and how many loss evaluations it took.

    Raises:
        OptimizationError: the loss became NaN or infinite or exploded, the image saturated, the
            gradients overflowed, or memory ran out.
        ValueError: bad arguments.
    """
    variables = [variables] if isinstance(variables, torch.Tensor) else list(variables)
    steps = check_count(steps, "steps")
    log_every = check_count(log_every, "log_every", low=1)
    lr = check_number(lr, "lr", positive=True)
    if not 0 < lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1] (1 keeps the learning rate), got {lr_decay}.")
    for v in variables:
        if not v.is_leaf:
            raise ValueError("optimize changes leaf tensors: pass image.detach().clone().")
        if not bool(torch.isfinite(v).all()):
            raise ValueError("The starting values hold NaN or infinity: start from finite ones.")
        v.requires_grad_(True)
    opt = _make_optimizer(optimizer, variables, lr)
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps - 1, eta_min=lr * lr_decay)
                if lr_decay < 1 and steps > 1 else None)
    guard = _Guard(opt, _advice(lr, weights), image or _image_of(variables[0]))
    history = History()
    pending: list[torch.Tensor] = []
    names: list[str] = []

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        terms = _as_terms(loss_fn())
        total = torch.stack(list(terms.values())).sum()
        total.backward()
        closure.terms = terms
        closure.calls += 1
        return total

    closure.calls = 0

    bar = Progress(steps, desc, enabled=progress)
    try:
        for step in range(steps):
            opt.step(closure)
            if schedule is not None:
                schedule.step()
            if after_step is not None:
                with torch.no_grad():
                    after_step()
            terms = closure.terms
            names = names or [*terms, "total"]
            values = torch.stack([t.detach() for t in terms.values()])
            pending.append(torch.cat([values, values.sum()[None]]))
            history.evaluations.append(closure.calls)
            if (step + 1) % log_every == 0 or step + 1 == steps:
                _flush(pending, names, history, guard)
                bar.update(step + 1, f"loss {history.final():.4g}")
            history.steps = step + 1
    except KeyboardInterrupt:
        history.interrupted = True
        _flush(pending, names, history, guard)
        print(f"Stopped by the user after {history.steps} of {steps} steps.")
    except (torch.OutOfMemoryError, MemoryError):
        raise OptimizationError(_out_of_memory_message(variables)) from None
    except RuntimeError as err:  # the CPU allocator's and MPS's out-of-memory are RuntimeErrors
        if not any(words in str(err).lower() for words in OUT_OF_MEMORY):
            raise
        raise OptimizationError(_out_of_memory_message(variables)) from None
    finally:
        bar.close()
        for v in variables:
            v.requires_grad_(False)
    return history


def _make_optimizer(name: str, variables: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(variables, lr=lr)
    if name == "lbfgs":
        return torch.optim.LBFGS(variables, lr=lr, max_iter=1, history_size=50,
                                 line_search_fn="strong_wolfe")
    raise ValueError(f"Unknown optimizer {name!r}: use 'adam' or 'lbfgs'.")


def _as_terms(loss: torch.Tensor | LossTerms) -> LossTerms:
    terms = loss if isinstance(loss, dict) else {"loss": loss}
    for name, value in terms.items():
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise ValueError(f"The loss term {name!r} must be a scalar tensor.")
    return {name: value.reshape(()) for name, value in terms.items()}


def _flush(pending: list[torch.Tensor], names: list[str], history: History,
           guard: "_Guard") -> None:
    """Copy the recorded losses to the host in one transfer and check the run."""
    if not pending:
        return
    rows = torch.stack(pending).float().cpu().tolist()
    pending.clear()
    for row in rows:
        for name, value in zip(names, row):
            history.losses.setdefault(name, []).append(value)
    guard.check(history.losses["total"])


class _Guard:
    """Stops a run that diverges, with a message naming the learning rate and the weights.

    A run has diverged when its loss is NaN or infinite or has climbed `EXPLODED` times above a
    positive start, when Adam's gradient statistics overflowed (the steps then shrink to 0: the
    image silently stops changing), or when at the first check the image has saturated (see
    `SATURATED`).
    """

    def __init__(self, opt: torch.optim.Optimizer, advice: str,
                 image: Callable[[], torch.Tensor] | None):
        """Note the run's optimizer and how saturated its image is at the start."""
        self.opt, self.advice, self.image = opt, advice, image
        self.start = None if image is None else _saturation(image)

    def check(self, totals: list[float]) -> None:
        """Raise `OptimizationError` when the run has diverged.

        Args:
            totals: the total loss at every step so far.
        """
        first, last = totals[0], totals[-1]
        if not math.isfinite(last):
            raise OptimizationError(f"The loss became {last} after {len(totals)} steps. "
                                    f"{self.advice}")
        if first > 0 and last > EXPLODED * first:
            raise OptimizationError(f"The loss exploded from {first:.3g} to {last:.3g}. "
                                    f"{self.advice}")
        if _overflowed(self.opt):
            raise OptimizationError(f"The loss ({last:.3g}) is so large that its gradients "
                                    f"overflow, and the image stopped changing. {self.advice}")
        if self.start is not None:
            self._check_saturation(len(totals))

    def _check_saturation(self, steps: int) -> None:
        start, now = self.start, _saturation(self.image)
        self.start = None  # checked once, early: later, a legitimate run may saturate pixels
        if start < 1 and (now - start) / (1 - start) >= SATURATED:
            raise OptimizationError(
                f"After {steps} steps {now:.0%} of the pixels are stuck at 0 or 1 (at the start: "
                f"{start:.0%}): the image saturated. {self.advice}")


def _image_of(variable: torch.Tensor) -> Callable[[], torch.Tensor] | None:
    """The variable itself when it is an (N, 3, H, W) image, for the saturation check."""
    return (lambda: variable) if variable.dim() == 4 and variable.shape[1] == 3 else None


def _saturation(image: Callable[[], torch.Tensor]) -> float:
    """The fraction of an image's values within EDGE of 0 or 1."""
    with torch.no_grad():
        x = image().detach()
        return float(((x <= EDGE) | (x >= 1 - EDGE)).float().mean())


def _overflowed(opt: torch.optim.Optimizer) -> bool:
    """Whether Adam's running mean of squared gradients overflowed to infinity."""
    moments = [state["exp_avg_sq"].amax() for state in opt.state.values() if "exp_avg_sq" in state]
    return bool(moments) and not bool(torch.isfinite(torch.stack(moments)).all())


def _advice(lr: float, weights: Mapping[str, object] | None) -> str:
    """What to change when a run diverges: the learning rate, or the weights named."""
    named = f" ({', '.join(f'{k}={_short(v)}' for k, v in weights.items())})" if weights else ""
    return (f"The learning rate (lr={lr:g}) is probably too high, or a loss weight too "
            f"large{named}: lower them and run again.")


def _short(value: object) -> str:
    """A weight as a short text: ``10``, ``1e+30`` or ``[1, 10]`` for one per image."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def _out_of_memory_message(variables: list[torch.Tensor]) -> str:
    """Say that memory ran out, where, and a size that needs half as much."""
    where = {"cuda": "The GPU", "mps": "The Apple GPU"}.get(variables[0].device.type, "The computer")
    shape = tuple(variables[0].shape)
    if len(shape) == 4:
        side = max(shape[-2:])
        return (f"{where} ran out of memory at {shape[-2]}x{shape[-1]} pixels (batch {shape[0]}). "
                f"Memory grows with the number of pixels: try size={int(side / math.sqrt(2)) // 8 * 8}"
                " or a smaller batch, or close other programs.")
    return f"{where} ran out of memory: use smaller images or a smaller batch."
