"""Sample images: photos offline, paintings downloaded once, generated styles that look like art."""

import numpy as np
import PIL.Image
import pytest
import torch

import nstutils as nst
from nstutils.data import PAINTINGS, painting_path
from nstutils.generated_styles import line_integral_convolution


def test_photos_load_offline_at_the_asked_size():
    cat = nst.sample_image("chelsea", size=128, device="cpu")
    assert cat.shape == (1, 3, 85, 128)  # chelsea is 451x300
    assert 0 <= cat.min() and cat.max() <= 1
    assert nst.sample_image("camera", device="cpu").shape == (1, 3, 512, 512)  # grayscale -> RGB


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="chelsea.*starry_night.*swirl"):
        nst.sample_image("mona_lisa")


def test_painting_downloads_once_then_comes_from_the_cache(http_server, monkeypatch):
    folder, url = http_server
    array = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    filename = PAINTINGS["starry_night"][0]
    PIL.Image.fromarray(array).save(folder / filename, format="PNG")
    monkeypatch.setenv("NSTUTILS_PAINTINGS_MIRROR", url)

    image = nst.sample_image("starry_night", device="cpu")
    assert torch.equal(image, torch.from_numpy(array).permute(2, 0, 1)[None] / 255.0)
    assert image.title == "starry_night"
    assert painting_path("starry_night").is_file()

    (folder / filename).unlink()
    assert torch.equal(nst.sample_image("starry_night", device="cpu"), image)


def test_painting_offline_falls_back_to_a_generated_style_and_says_so():
    with pytest.warns(UserWarning, match="Could not download the painting 'great_wave'.*"
                                         "Using the generated style 'waves' as an offline "
                                         "stand-in for 'great_wave'"):
        image = nst.sample_image("great_wave", size=64, device="cpu")
    assert torch.equal(image, nst.sample_image("waves", size=64, device="cpu"))
    assert image.title == "waves, offline stand-in for great_wave"  # for figure titles


def test_every_sample_carries_its_name_as_its_title():
    assert nst.sample_image("chelsea", size=64, device="cpu").title == "chelsea"
    assert nst.sample_image("swirl", size=64, device="cpu").title == "swirl"


@pytest.mark.parametrize("name", list(nst.GENERATED_STYLES))
def test_generated_styles_are_repeatable_colourful_and_structured(name):
    image = nst.sample_image(name, size=(96, 128), device="cpu", seed=3)
    assert image.shape == (1, 3, 96, 128)
    assert torch.equal(image, nst.sample_image(name, size=(96, 128), device="cpu", seed=3))
    assert not torch.equal(image, nst.sample_image(name, size=(96, 128), device="cpu", seed=4))
    luma = image[0].mean(0)
    assert luma.std() > 0.08                                  # real contrast, not a flat wash
    assert (image[0].max(0).values - image[0].min(0).values).mean() > 0.1  # colour, not gray
    # Art has structure over several pixels: a 3x3 blur keeps most of its variance (about 0.5
    # to 0.9 here), where it keeps 1/9 of the variance of white noise.
    blurred = torch.nn.functional.avg_pool2d(luma[None, None], 3, stride=1)
    assert blurred.var() > 0.4 * luma.var()


def test_the_generated_sky_is_repeatable_bright_and_cloudy():
    sky = nst.sample_image("clouds", size=(96, 160), device="cpu", seed=1)
    assert sky.shape == (1, 3, 96, 160) and sky.title == "clouds"
    assert 0 <= sky.min() and sky.max() <= 1
    assert torch.equal(sky, nst.sample_image("clouds", size=(96, 160), device="cpu", seed=1))
    assert nst.sample_image("clouds", size=200, device="cpu").shape == (1, 3, 200, 200)
    red, _, blue = sky[0]
    assert sky.mean() > 0.6                                   # a bright sky, not a night one
    assert 0.3 < (blue - red > 0.25).float().mean() < 0.8     # blue sky between the clouds
    assert 0.1 < (sky[0].min(0).values > 0.8).float().mean() < 0.6  # and white clouds


def test_line_integral_convolution_smears_along_the_field():
    noise = np.random.default_rng(0).random((16, 16))
    rows_constant = np.repeat(noise[:, :1], 16, axis=1)
    horizontal = np.stack([np.zeros((16, 16)), np.ones((16, 16))])  # (dy, dx) = (0, 1)
    # Along rows the texture is constant, so smearing along x changes nothing ...
    assert np.allclose(line_integral_convolution(horizontal, rows_constant, 5), rows_constant)
    # ... while smearing white noise along x averages it: it keeps far less variance.
    smeared = line_integral_convolution(horizontal, noise, 8)
    assert smeared.std() < 0.6 * noise.std()
    assert np.allclose(smeared.mean(), noise.mean(), atol=0.02)
