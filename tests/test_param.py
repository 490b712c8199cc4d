"""Parametrizations: they round-trip, start near gray, and damp fine detail as documented."""

import pytest
import torch

from nstutils.param import (FourierImage, PixelImage, colour_correlation_sqrt, make_param,
                            spectrum_power)


@pytest.mark.parametrize("cls", [PixelImage, FourierImage])
@pytest.mark.parametrize("decorrelate", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (1, 3, 17, 24)])
def test_round_trip(cls, decorrelate, shape):
    image = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 0.98 + 0.01
    param = cls.from_image(image, decorrelate=decorrelate)
    torch.testing.assert_close(param(), image, atol=1e-5, rtol=0)
    torch.testing.assert_close(param.decode(param.encode(image)), image, atol=1e-5, rtol=0)


def test_fourier_params_are_the_half_spectrum():
    param = FourierImage((16, 24), batch=2)
    assert param.params.shape == (2, 3, 16, 13, 2)
    assert param().shape == (2, 3, 16, 24)


def test_start_is_near_gray_and_seeded():
    for cls in (PixelImage, FourierImage):
        image = cls(32, seed=1)()
        assert (image - 0.5).abs().max() < 0.05
        assert cls(32, seed=1)().equal(image)
        assert not cls(32, seed=2)().equal(image)
    assert PixelImage(32, sd=0.0)().eq(0.5).all()


def test_fourier_scale_falls_as_one_over_frequency():
    param = FourierImage(32)
    scale = param.spectrum_scale()
    assert scale.pow(2).mean().item() == pytest.approx(1.0, rel=1e-5)
    # frequency 1/32 (index 1) against 4/32 (index 4), along x: ratio 4
    assert (scale[0, 1] / scale[0, 4]).item() == pytest.approx(4.0, rel=1e-5)
    # the zero frequency is clamped to the lowest non-zero one
    assert scale[0, 0].item() == pytest.approx(scale[0, 1].item())


def test_fourier_noise_has_more_coarse_than_fine_power():
    image = FourierImage(64, sd=0.5, decorrelate=False)()
    _, pixel_power = spectrum_power(PixelImage(64, sd=0.5)())
    _, fourier_power = spectrum_power(image)
    assert fourier_power[0] > 20 * fourier_power[-1]
    assert pixel_power[0] < 3 * pixel_power[-1]


def test_colour_matrix_reproduces_photo_covariance_directions():
    m = colour_correlation_sqrt()
    assert m.shape == (3, 3)
    assert torch.linalg.norm(m, dim=0).max().item() == pytest.approx(1.0)
    # the first axis is brightness: all three channels move together
    assert (m[:, 0] > 0).all()
    # the axes are orthogonal
    gram = m.T @ m
    torch.testing.assert_close(gram - torch.diag(gram.diagonal()), torch.zeros(3, 3), atol=1e-6,
                               rtol=0)


def test_make_param_copies_a_given_param():
    original = PixelImage(32, seed=0)
    before = original.params.clone()
    twin = make_param(original, 32, 1, 0, "cpu")
    twin.params += 1.0
    assert original.params.equal(before)
    with pytest.raises(ValueError, match="Unknown parametrization"):
        make_param("wavelet", 32, 1, 0, "cpu")


@pytest.mark.parametrize("kwargs", [dict(size=0), dict(size=(3,)), dict(batch=0), dict(sd=-1)])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        PixelImage(**kwargs)
