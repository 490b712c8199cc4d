"""Lesson 09's helpers: misnormalized networks and the views of what went wrong."""

import pytest
import torch

import nstutils as nst
from nstutils import failures


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    return nst.sample_image("chelsea", size=224)


def test_the_right_normalization_sees_a_cat_and_0_255_does_not(model, cat):
    assert "cat" in nst.top_k(model, cat, k=1)[0].label
    wrong = nst.top_k(failures.misnormalized(model, "0-255"), cat, k=1)[0]
    assert "cat" not in wrong.label


@pytest.mark.parametrize("mistake", failures.MISTAKES)
def test_each_mistake_changes_what_the_first_layer_sees_and_nothing_else(model, cat, mistake):
    wrong = failures.misnormalized(model, mistake)
    assert not torch.allclose(wrong.normalize(cat), model.normalize(cat), atol=1e-3)
    assert not torch.allclose(wrong(cat), model(cat), atol=1e-3)
    assert wrong.net is model.net  # the same weights, not a copy
    assert wrong.layers == model.layers and wrong.name == model.name
    assert mistake in repr(wrong)
    torch.testing.assert_close(model.normalize(cat), (cat - model.mean) / model.std)  # untouched


def test_each_mistake_is_the_input_it_names(model, cat):
    right = model.normalize
    torch.testing.assert_close(failures.misnormalized(model, "bgr").normalize(cat),
                               right(cat.flip(1)))
    torch.testing.assert_close(failures.misnormalized(model, "0-255").normalize(cat),
                               (cat * 255 - model.mean) / model.std)
    torch.testing.assert_close(failures.misnormalized(model, "none").normalize(cat), cat)
    other = failures.misnormalized(model, "other_stats")  # Lite0's 0.5/0.5 -> ImageNet's
    expected_mean = torch.tensor(nst.models.IMAGENET_MEAN).view(1, 3, 1, 1)
    expected_std = torch.tensor(nst.models.IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(other.normalize(cat), (cat - expected_mean) / expected_std)


def test_a_misnormalized_network_paints(model):
    photo = nst.sample_image("chelsea", size=64)
    style = nst.sample_image("swirl", size=64)
    kwargs = dict(steps=2, progress=False, seed=0)
    wrong = nst.style_transfer(photo, style, failures.misnormalized(model, "0-255"), **kwargs)
    right = nst.style_transfer(photo, style, model, **kwargs)
    assert wrong.shape == right.shape and not torch.allclose(wrong, right, atol=1e-3)


def test_misnormalized_refuses_bad_arguments(model):
    with pytest.raises(ValueError, match="Unknown mistake 'rgb'"):
        failures.misnormalized(model, "rgb")
    with pytest.raises(TypeError, match="FeatureNetwork"):
        failures.misnormalized(torch.nn.Identity(), "bgr")
    with pytest.raises(ValueError, match="already misnormalized"):
        failures.misnormalized(failures.misnormalized(model, "bgr"), "none")


def test_high_pass_is_grey_on_a_flat_image_and_strong_on_a_checkerboard():
    flat = torch.full((2, 3, 16, 16), 0.3)
    torch.testing.assert_close(failures.high_pass(flat), torch.full_like(flat, 0.5))
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2).float()
    checker = checker.expand(1, 3, 16, 16).contiguous()
    detail = failures.high_pass(checker)
    assert detail.shape == checker.shape and 0 <= detail.min() and detail.max() <= 1
    assert (detail - 0.5).abs().mean() > 0.4  # every pixel differs from its neighbours
    smooth = torch.linspace(0, 1, 16).expand(1, 3, 16, 16).contiguous()  # a slow ramp
    assert (failures.high_pass(smooth) - 0.5).abs()[..., 1:-1, 1:-1].max() < 1e-5


def test_high_pass_refuses_bad_arguments():
    with pytest.raises(nst.ImageArgumentError):
        failures.high_pass(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="at least 2 pixels"):
        failures.high_pass(torch.zeros(1, 3, 1, 8))
    with pytest.raises(ValueError):
        failures.high_pass(torch.zeros(1, 3, 8, 8), gain=0)


def test_mark_out_of_range_paints_exactly_the_pixels_outside():
    image = torch.full((1, 3, 4, 4), 0.5)
    image[0, 0, 1, 2] = 1.5    # one channel too bright
    image[0, 2, 3, 0] = -0.25  # one too dark
    marked = failures.mark_out_of_range(image, color=(0.0, 1.0, 0.0))
    outside = torch.zeros(4, 4, dtype=torch.bool)
    outside[1, 2] = outside[3, 0] = True
    torch.testing.assert_close(marked[0, :, outside], torch.tensor([[0.0] * 2, [1.0] * 2, [0.0] * 2]))
    assert (marked[0, :, ~outside] == 0.5).all()
    with pytest.raises(ValueError, match="three numbers"):
        failures.mark_out_of_range(image, color=(2.0, 0.0, 0.0))


def test_memory_estimate_grows_with_the_pixels_and_the_batch():
    one = failures.memory_estimate(512)
    assert one == pytest.approx(512 * 512 * nst.validate.BYTES_PER_PIXEL / 2**30)
    assert failures.memory_estimate(1024) == pytest.approx(4 * one)
    assert failures.memory_estimate(512, batch=3) == pytest.approx(3 * one)
    assert failures.memory_estimate(512, aspect=0.5) == pytest.approx(one / 2)
    with pytest.raises(ValueError):
        failures.memory_estimate(512, aspect=1.5)
    with pytest.raises(ValueError):
        failures.memory_estimate(0)
