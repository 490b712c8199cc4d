"""The optimization loop: its learning-rate schedule, and how it stops when a run goes wrong."""

import pytest
import torch

import nstutils as nst
from nstutils.optim import OptimizationError, optimize


def test_the_learning_rate_falls_along_a_cosine_to_lr_times_lr_decay():
    # A constant gradient of 1 makes every Adam step exactly -lr (bias-corrected m / sqrt(v) = 1),
    # so x adds up the rates: 1, then (1 + 0.1) / 2 half way down the cosine, then 0.1.
    x = torch.zeros(1)
    optimize(x, lambda: x.sum(), 3, lr=1.0, lr_decay=0.1, progress=False)
    assert x.item() == pytest.approx(-(1.0 + 0.55 + 0.1), abs=1e-5)
    constant = torch.zeros(1)
    optimize(constant, lambda: constant.sum(), 3, lr=1.0, progress=False)
    assert constant.item() == pytest.approx(-3.0, abs=1e-5)


def test_every_step_is_recorded_and_the_terms_add_up():
    x = torch.tensor([3.0])
    history = optimize(x, lambda: {"a": x.pow(2).sum(), "b": (x - 1).abs().sum()}, 25,
                       lr=0.1, progress=False, log_every=10)
    assert history.steps == 25 and len(history.losses["total"]) == 25
    assert history.losses["total"] == pytest.approx(
        [a + b for a, b in zip(history.losses["a"], history.losses["b"])])
    assert history.final() < history.losses["total"][0]


def test_the_loss_evaluations_are_counted_step_by_step_and_across_runs():
    calls = []

    def loss():
        calls.append(1)
        return (x - 2).pow(2).sum() + x.pow(4).sum()

    x = torch.tensor([3.0])
    adam = optimize(x, loss, 5, progress=False)
    assert adam.evaluations == [1, 2, 3, 4, 5]
    calls.clear()
    lbfgs = optimize(x, loss, 5, optimizer="lbfgs", lr=1.0, progress=False)
    assert len(lbfgs.evaluations) == 5 and lbfgs.evaluations[-1] == len(calls)
    assert lbfgs.evaluations[-1] > 5  # the line search evaluates the loss more than once a step
    adam.extend(lbfgs)
    assert adam.evaluations == [1, 2, 3, 4, 5] + [5 + n for n in lbfgs.evaluations]


def test_a_nan_loss_stops_the_run_and_names_the_learning_rate():
    x = torch.ones(1)
    with pytest.raises(OptimizationError, match=r"became nan after 10 steps.*lr=0\.5"):
        optimize(x, lambda: x.sum() * float("nan"), 50, lr=0.5, progress=False)


def test_an_exploding_loss_stops_the_run():
    x = torch.ones(1)  # Adam's steps are about lr long: x jumps far from the minimum at 0
    with pytest.raises(OptimizationError, match=r"exploded from 1 to .*lr=1000"):
        optimize(x, lambda: x.pow(2).sum(), 20, lr=1000.0, progress=False)


def test_running_out_of_gpu_memory_names_a_size_that_would_fit():
    x = torch.zeros(1, 3, 512, 384)

    def out_of_memory():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OptimizationError) as error:
        optimize(x, out_of_memory, 5, progress=False)
    # 512 / sqrt(2) = 362, rounded down to a multiple of 8: half the pixels.
    assert "512x384 pixels (batch 1)" in str(error.value) and "size=360" in str(error.value)
    assert error.value.__cause__ is None and not x.requires_grad


def test_running_out_of_cpu_memory_is_one_clear_error_and_other_errors_pass():
    x = torch.zeros(1, 3, 512, 384)

    def cpu_out_of_memory():
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough "
                           "memory: you tried to allocate 1073741824 bytes.")

    with pytest.raises(OptimizationError, match="The computer ran out of memory at 512x384"):
        optimize(x, cpu_out_of_memory, 5, progress=False)

    def shape_bug():
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        optimize(x, shape_bug, 5, progress=False)


def test_ctrl_c_stops_cleanly_and_keeps_the_steps_taken(capsys):
    x = torch.ones(1)
    calls = []

    def loss():
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return x.pow(2).sum()

    history = optimize(x, loss, 100, lr=0.1, progress=False)
    assert history.interrupted and history.steps == 6 and len(history.losses["total"]) == 6
    assert "after 6 of 100 steps" in capsys.readouterr().out


def test_bad_arguments_say_what_to_do():
    x = torch.ones(1)
    with pytest.raises(ValueError, match="lr_decay must be in"):
        optimize(x, lambda: x.sum(), 3, lr_decay=0.0, progress=False)
    with pytest.raises(ValueError, match="leaf tensors"):
        optimize(torch.ones(1, requires_grad=True) * 2, lambda: x.sum(), 3, progress=False)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimize(x, lambda: x.sum(), 3, optimizer="sgd", progress=False)


@pytest.mark.parametrize("run", [
    lambda m, x: nst.deep_dream(x, m, lr=1e6, octaves=1, progress=False),
    lambda m, x: nst.visualize(nst.channel("block3", 0), m, size=64, steps=12, lr=1e6,
                               progress=False),
    lambda m, x: nst.visualize(nst.channel("block3", 0), m, size=64, steps=12, lr=1e6,
                               param="pixel", progress=False),
    lambda m, x: nst.style_transfer(x, x.flip(-1), m, steps=12, lr=1e6, progress=False),
])
def test_a_run_that_saturates_its_image_stops_naming_the_learning_rate(model, run):
    photo = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with pytest.raises(nst.OptimizationError, match=r"stuck at 0 or 1.*lr=1e\+06"):
        run(model, photo)


def test_a_weight_so_large_that_gradients_overflow_is_named(model):
    photo = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with pytest.raises(nst.OptimizationError, match=r"overflow.*style_weight=1e\+30"):
        nst.style_transfer(photo, photo.flip(-1), model, steps=12, style_weight=1e30,
                           progress=False)
