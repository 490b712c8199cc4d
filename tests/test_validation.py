"""The validation layer: each bad argument gives one error of its kind that says what to do."""

import re
import warnings

import numpy as np
import pytest
import torch

import nstutils as nst
from nstutils import validate


@pytest.fixture
def photo() -> torch.Tensor:
    return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_error_types_are_value_and_type_errors_a_notebook_can_catch():
    for kind in (nst.ImageArgumentError, nst.SizeError, nst.NumberError, nst.TargetError,
                 nst.DeviceError):
        assert issubclass(kind, nst.ArgumentError)
        assert issubclass(kind, ValueError) and issubclass(kind, TypeError)


@pytest.mark.parametrize("call", [
    lambda m, x: nst.deep_dream(x * 255, m, steps=1, progress=False),
    lambda m, x: nst.saliency(m, x * 255, 281),
    lambda m, x: nst.style_transfer(x * 255, x, m, steps=1, progress=False),
])
def test_images_in_0_to_255_are_refused_with_divide_by_255(model, photo, call):
    with pytest.raises(nst.ImageArgumentError, match=r"divide by 255"):
        call(model, photo)


@pytest.mark.parametrize("call", [
    lambda m, x: nst.deep_dream(x, m, steps=1, progress=False),
    lambda m, x: nst.saliency(m, x, 281),
    lambda m, x: nst.integrated_gradients(m, x, 281, steps=2),
    lambda m, x: nst.style_transfer(x, torch.rand(1, 3, 64, 64), m, steps=1, progress=False),
    lambda m, x: nst.dream_objective(x, m),
])
def test_a_nan_pixel_is_refused_at_the_door(model, photo, call):
    photo[0, 1, 5, 7] = float("nan")
    with pytest.raises(nst.ImageArgumentError, match=r"1 NaN or infinite value.*nan_to_num"):
        call(model, photo)


def test_normalized_images_and_other_ranges_say_what_to_do(photo):
    with pytest.raises(nst.ImageArgumentError, match="normalized"):
        validate.check_image(photo * 4 - 2)
    with pytest.raises(nst.ImageArgumentError, match=r"clamp\(0, 1\)"):
        validate.check_image(photo * 1000)


def test_float64_images_are_converted_and_give_the_same_result(model, photo):
    assert nst.dream_objective(photo.double(), model) == nst.dream_objective(photo, model)
    assert torch.equal(nst.saliency(model, photo.double(), 281), nst.saliency(model, photo, 281))


def test_meta_tensors_and_wrong_devices_are_refused(model, photo):
    with pytest.raises(nst.ImageArgumentError, match="meta tensor"):
        nst.deep_dream(torch.empty(1, 3, 64, 64, device="meta"), model, progress=False)
    with pytest.raises(nst.ImageArgumentError, match=r"\.to\(model\.device\)"):
        validate.check_on(photo, torch.device("meta"))


def test_integer_images_say_divide_by_255(model):
    with pytest.raises(TypeError, match="divide by 255"):
        nst.saliency(model, torch.zeros(1, 3, 64, 64, dtype=torch.uint8), 1)


@pytest.mark.parametrize("size", [(64,), 64.5, "64", 0, True, (64, 0)])
def test_bad_sizes_give_a_size_error(model, size):
    with pytest.raises(nst.SizeError, match="size"):
        nst.visualize(nst.channel("block3", 0), model, size=size, steps=1, progress=False)


def test_texture_size_0_and_sample_size_8_are_refused(model, photo):
    with pytest.raises(nst.SizeError, match="at least 32"):
        nst.synthesize_texture(photo, "block3", model, size=0, steps=1, progress=False)
    with pytest.raises(nst.SizeError, match="at least 32"):
        nst.sample_image("swirl", size=8, device="cpu")


def test_sizes_too_large_for_memory_say_what_fits(model, monkeypatch):
    monkeypatch.setattr(validate, "device_memory", lambda device: 2**30)
    with pytest.raises(nst.SizeError, match=r"needs about 18\.\d GiB, and cpu has 1\.0 GiB: use a "
                                            r"longer side of 696 or less"):
        nst.visualize(nst.channel("block3", 0), model, size=3000, steps=1, progress=False)
    with pytest.raises(nst.SizeError, match="use a longer side of"):
        nst.style_transfer(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), model,
                           sizes=[64, 5000], steps=1, progress=False)
    big = torch.rand(1, 3, 800, 800)
    with pytest.raises(nst.SizeError, match="Dreaming at 800x800"):
        nst.deep_dream(big, model, octaves=1, steps=0, progress=False)
    assert nst.deep_dream(big, model, octaves=1, steps=0, tile=256, progress=False).shape == big.shape


def test_a_style_scale_too_large_for_memory_names_a_style_scale_that_fits(model, monkeypatch):
    monkeypatch.setattr(validate, "device_memory", lambda device: 2**30)
    with pytest.raises(nst.SizeError, match=r"use style_scale=(\S+) or less") as error:
        nst.style_transfer(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), model,
                           style_scale=500, steps=1, progress=False)
    scale = float(re.search(r"style_scale=(\S+) or less", str(error.value)).group(1))
    side = round(64 * scale)  # the style image then needs at most the memory there is
    assert 0.9 * 2**30 < side * side * validate.BYTES_PER_PIXEL / 4 <= 2**30


def test_the_memory_bound_follows_the_machine():
    assert validate.device_memory(torch.device("cpu")) > 2**28
    validate.check_memory((512, 512), 1, torch.device("cpu"), "size=512")
    with pytest.raises(nst.SizeError, match="size=100000"):
        validate.check_memory((100000, 100000), 1, torch.device("cpu"), "size=100000")


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=2.5), "steps must be a whole number"),
    (dict(log_every=0), "log_every must be 1 or more"),
    (dict(lr=-1.0), "lr must be a finite number above 0"),
    (dict(style_scale="2"), "style_scale must be a number"),
])
def test_bad_counts_and_numbers_give_a_number_error(model, photo, kwargs, match):
    with pytest.raises(nst.NumberError, match=match):
        nst.style_transfer(photo, photo, model, progress=False, **{"steps": 1, **kwargs})


def test_optimize_refuses_bad_counts_and_a_nan_start():
    x = torch.ones(3)
    with pytest.raises(nst.NumberError, match="log_every must be 1 or more"):
        nst.optimize(x, lambda: x.sum(), 3, log_every=0, progress=False)
    with pytest.raises(nst.NumberError, match="steps must be a whole number"):
        nst.optimize(x, lambda: x.sum(), 2.5, progress=False)
    with pytest.raises(ValueError, match="NaN or infinity"):
        nst.optimize(torch.tensor([1.0, float("nan")]), lambda: x.sum(), 3, progress=False)


@pytest.mark.parametrize("target", [2.7, True, [1.5], torch.tensor([2.0]), -1])
def test_bad_targets_are_refused(model, photo, target):
    with pytest.raises(nst.TargetError, match="target|Class indices"):
        nst.saliency(model, photo, target)


def test_a_class_name_is_looked_up(model, photo):
    tabby = nst.class_index("tabby")
    assert torch.equal(nst.saliency(model, photo, "tabby"), nst.saliency(model, photo, tabby))
    with pytest.raises(ValueError, match="No ImageNet class"):
        nst.saliency(model, photo, "tabbby cat dog")


def test_channels_must_be_whole_numbers_in_range(model, photo):
    with pytest.raises(nst.TargetError, match="channel must be a whole number"):
        nst.channel("block7", 1.5)
    with pytest.raises(nst.TargetError, match="between 0 and"):
        nst.deep_dream(photo, model, "block3", channel=10000, progress=False)
    with pytest.raises(nst.TargetError, match="whole number"):
        nst.deep_dream(photo, model, "block3", channel=1.5, progress=False)


def test_empty_style_layers_do_not_silently_drop_the_style(model, photo):
    with pytest.raises(nst.ArgumentError, match="style_layers='' names no layer.*style_weight=0"):
        nst.style_transfer(photo, photo, model, style_layers="", steps=1, progress=False)


def test_content_weight_0_starts_from_the_content(model, photo):
    out = nst.style_transfer(photo, torch.rand(1, 3, 64, 64), model, content_weight=0, steps=2,
                             progress=False)
    assert out.shape == photo.shape and bool(torch.isfinite(out).all())


def test_a_numpy_baseline_works_like_a_tensor(model, photo):
    base = np.full((1, 3, 64, 64), 0.5, dtype=np.float32)
    expected = nst.integrated_gradients(model, photo, 281, torch.from_numpy(base), steps=4)
    assert torch.equal(nst.integrated_gradients(model, photo, 281, base, steps=4), expected)
    with pytest.raises(nst.ImageArgumentError, match=r"shaped like x \(1, 3, 64, 64\), got \(1, 3, 8, 8\)"):
        nst.integrated_gradients(model, photo, 281, base[..., :8, :8], steps=4)


def test_inputs_of_toy_models_keep_their_range_and_type():
    net = torch.nn.Linear(3, 1).double()
    x = torch.tensor([[7.0, -3.0, 2.0]])
    attributions = nst.integrated_gradients(net, x, steps=4)
    assert attributions.dtype == torch.float64


@pytest.mark.parametrize("size", [64.5, "64", (64,), (64, 64.0), True])
def test_a_size_that_is_not_whole_pixels_says_what_to_pass(size):
    with pytest.raises(nst.SizeError, match=r"whole number of pixels such as size=128, or a pair"):
        nst.sample_image("swirl", size=size, device="cpu")


def test_a_canvas_near_the_memory_is_warned_about_with_the_estimate(monkeypatch):
    monkeypatch.setattr(validate, "device_memory", lambda device: 2 * 2**30)
    with pytest.warns(UserWarning, match=r"size=800 \(800x800 pixels, batch 1\) needs about "
                                         r"1\.3 GiB of the 2\.0 GiB cpu has: close other"):
        validate.check_memory((800, 800), 1, torch.device("cpu"), "size=800")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate.check_memory((400, 400), 1, torch.device("cpu"), "size=400")  # a quarter: quiet
