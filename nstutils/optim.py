"""The one optimization loop of the course: it changes images (never weights) to lower a loss.

Feature visualization, DeepDream, feature inversion, texture synthesis and style transfer all
call `optimize`. It shows a progress bar (in a notebook it ends as a one-line summary), records
every loss term so a notebook can plot it, syncs with the device only when the bar updates, stops
cleanly on Ctrl-C / the notebook's stop button, and stops with a clear message when the loss turns
NaN or explodes or the GPU runs out of memory.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .progress import Progress

LossTerms = dict[str, torch.Tensor]


class OptimizationError(RuntimeError):
    """The optimization went wrong (NaN or exploding loss, out of memory) and was stopped."""


@dataclass
class History:
    """What happened during `optimize`.

    Attributes:
        losses: term name -> its value after each step (``"total"`` is their sum).
        steps: the number of steps taken.
        interrupted: True when the run was stopped by the user before the last step.
    """

    losses: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    interrupted: bool = False

    def final(self, name: str = "total") -> float:
        """Return the last recorded value of a loss term."""
        return self.losses[name][-1]


def optimize(variables: torch.Tensor | Sequence[torch.Tensor],
             loss_fn: Callable[[], torch.Tensor | LossTerms], steps: int, *,
             optimizer: str = "adam", lr: float = 0.02, lr_decay: float = 1.0,
             after_step: Callable[[], None] | None = None, progress: bool = True,
             desc: str = "optimizing", log_every: int = 10) -> History:
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

    Returns:
        History: the loss terms at every step.

    Raises:
        OptimizationError: the loss became NaN or infinite, exploded, or memory ran out.
        ValueError: bad arguments.
    """
    variables = [variables] if isinstance(variables, torch.Tensor) else list(variables)
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}.")
    if lr <= 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr}.")
    if not 0 < lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1] (1 keeps the learning rate), got {lr_decay}.")
    for v in variables:
        if not v.is_leaf:
            raise ValueError("optimize changes leaf tensors: pass image.detach().clone().")
        v.requires_grad_(True)
    opt = _make_optimizer(optimizer, variables, lr)
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps - 1, eta_min=lr * lr_decay)
                if lr_decay < 1 and steps > 1 else None)
    history = History()
    pending: list[torch.Tensor] = []
    names: list[str] = []

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        terms = _as_terms(loss_fn())
        total = torch.stack(list(terms.values())).sum()
        total.backward()
        closure.terms = terms
        return total

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
            if (step + 1) % log_every == 0 or step + 1 == steps:
                _flush(pending, names, history, lr)
                bar.update(step + 1, f"loss {history.final():.4g}")
            history.steps = step + 1
    except KeyboardInterrupt:
        history.interrupted = True
        _flush(pending, names, history, lr)
        print(f"Stopped by the user after {history.steps} of {steps} steps.")
    except torch.cuda.OutOfMemoryError:
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


def _flush(pending: list[torch.Tensor], names: list[str], history: History, lr: float) -> None:
    """Copy the recorded losses to the host in one transfer and check them."""
    if not pending:
        return
    rows = torch.stack(pending).float().cpu().tolist()
    pending.clear()
    for row in rows:
        for name, value in zip(names, row):
            history.losses.setdefault(name, []).append(value)
    first, last = history.losses["total"][0], history.losses["total"][-1]
    if not math.isfinite(last):
        raise OptimizationError(
            f"The loss became {last} after {len(history.losses['total'])} steps. The learning "
            f"rate (lr={lr}) is probably too high, or a loss weight too large: lower them and "
            "run again.")
    if first > 0 and last > 1e4 * first:
        raise OptimizationError(
            f"The loss exploded from {first:.3g} to {last:.3g}. The learning rate (lr={lr}) is "
            "probably too high, or a loss weight too large: lower them and run again.")


def _out_of_memory_message(variables: list[torch.Tensor]) -> str:
    shape = tuple(variables[0].shape)
    if len(shape) == 4:
        side = max(shape[-2:])
        return (f"The GPU ran out of memory at {shape[-2]}x{shape[-1]} pixels (batch {shape[0]}). "
                f"Memory grows with the number of pixels: try size={int(side / math.sqrt(2)) // 8 * 8}"
                " or a smaller batch, or run on the CPU.")
    return "The GPU ran out of memory: use smaller images or a smaller batch."
