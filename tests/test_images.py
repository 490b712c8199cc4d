"""load_image: every kind of input, every odd mode, and a clear error for bad input."""

import functools
import io
import resource
import struct
import time
import types
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

import nstutils as nst
from nstutils.images import LARGEST_SIZE, MAX_DECODED_PIXELS
from nstutils.validate import SizeError


def _rgb_array(h=40, w=60, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _expected(array):
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255


def test_png_path_round_trips_exactly(image_dir):
    array = _rgb_array()
    PIL.Image.fromarray(array).save(image_dir / "a.png")
    image = nst.load_image(image_dir / "a.png", device="cpu")
    assert image.shape == (1, 3, 40, 60) and image.dtype == torch.float32
    assert torch.equal(image, _expected(array))
    assert torch.equal(nst.load_image(str(image_dir / "a.png"), device="cpu"), image)


def test_pil_numpy_bytes_tensor_and_upload_give_the_same_image(image_dir):
    array = _rgb_array()
    buffer = io.BytesIO()
    PIL.Image.fromarray(array).save(buffer, format="PNG")
    upload_v8 = ({"name": "a.png", "type": "image/png", "content": memoryview(buffer.getvalue())},)
    upload_v7 = {"a.png": {"metadata": {}, "content": buffer.getvalue()}}
    expected = _expected(array)
    for src in (PIL.Image.fromarray(array), array, buffer.getvalue(), expected[0], expected,
                upload_v8, upload_v7, array.astype(np.float32) / 255):
        assert torch.allclose(nst.load_image(src, device="cpu"), expected, atol=1e-6)


def test_url_downloads_the_image_through_the_one_download_path_into_a_temporary_file(
        http_server, monkeypatch):
    folder, url = http_server
    array = _rgb_array()
    PIL.Image.fromarray(array).save(folder / "cat.png")
    calls = []

    def spy(url, path, *args, **kwargs):
        calls.append((url, path))
        return download(url, path, *args, **kwargs)

    download = nst.images.download
    monkeypatch.setattr(nst.images, "download", spy)
    assert torch.equal(nst.load_image(f"{url}/cat.png", device="cpu"), _expected(array))
    [(asked, path)] = calls
    assert asked == f"{url}/cat.png"
    assert not Path(path).parent.exists()  # the temporary folder is gone
    with pytest.raises(nst.ImageError, match=r"Could not download an image from .*missing\.png "
                                             r".*Check the address"):
        nst.load_image(f"{url}/missing.png")


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(40 * 60, dtype=np.uint8).reshape(40, 60)
    image = nst.load_image(PIL.Image.fromarray(gray, mode="L"), device="cpu")
    assert image.shape == (1, 3, 40, 60)
    assert torch.equal(image[:, 0], image[:, 2]) and image[0, 0, 0, 5] == 5 / 255


def test_rgba_is_composited_on_white():
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)
    rgba[..., 0] = 255                     # red everywhere
    rgba[:20, :, 3] = 255                  # opaque top half
    rgba[20:, :, 3] = 0                    # transparent bottom half
    image = nst.load_image(PIL.Image.fromarray(rgba, mode="RGBA"), device="cpu")
    assert image[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert image[0, :, 39, 0].tolist() == [1.0, 1.0, 1.0]


def test_palette_with_transparency(image_dir):
    pal = PIL.Image.new("P", (40, 40), 0)
    pal.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    pal.paste(1, (0, 20, 40, 40))
    pal.save(image_dir / "p.png", transparency=1)
    image = nst.load_image(image_dir / "p.png", device="cpu")
    assert image[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0]   # blue stays
    assert image[0, :, 39, 0].tolist() == [1.0, 1.0, 1.0]  # transparent green -> white


def test_16_bit_png_keeps_its_range(image_dir):
    values = np.full((40, 40), 65535, dtype=np.uint16)
    values[20:] = 32768
    PIL.Image.fromarray(values).save(image_dir / "deep.png")
    image = nst.load_image(image_dir / "deep.png", device="cpu")
    assert image[0, 0, 0, 0] == 1.0
    assert image[0, 0, 39, 0] == pytest.approx(32768 / 65535)
    assert nst.load_image(values, device="cpu")[0, 1, 39, 0] == pytest.approx(32768 / 65535)


def test_cmyk_is_converted_to_rgb(image_dir):
    cmyk = PIL.Image.new("CMYK", (40, 40), (255, 0, 0, 0))  # pure cyan ink
    cmyk.save(image_dir / "c.tif")
    image = nst.load_image(image_dir / "c.tif", device="cpu")
    assert image[0, :, 5, 5].tolist() == [0.0, 1.0, 1.0]


def test_exif_rotation_is_applied(image_dir):
    array = np.zeros((40, 60, 3), dtype=np.uint8)
    array[:20, :30] = 255                   # white block in the top-left corner
    pil = PIL.Image.fromarray(array)
    exif = pil.getexif()
    exif[0x0112] = 6                        # "rotate 90 degrees clockwise to display"
    pil.save(image_dir / "rot.png", exif=exif)
    image = nst.load_image(image_dir / "rot.png", device="cpu")
    assert image.shape == (1, 3, 60, 40)
    assert image[0, 0, 5, 35] == 1.0 and image[0, 0, 5, 5] == 0.0  # now top-right


def test_size_sets_the_longer_side_or_the_exact_shape():
    array = _rgb_array(100, 200)
    assert nst.load_image(array, size=100, device="cpu").shape == (1, 3, 50, 100)
    assert nst.load_image(array, size=(64, 48), device="cpu").shape == (1, 3, 64, 48)


def test_huge_images_are_scaled_down_with_a_warning():
    big = np.zeros((64, 2100, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match="scaled down to 2048"):
        image = nst.load_image(big, device="cpu")
    assert image.shape == (1, 3, 62, 2048)


def test_too_small_images_are_refused_with_the_minimum():
    with pytest.raises(nst.ImageError, match="only 20x10 pixels.*at least 32"):
        nst.load_image(np.zeros((10, 20, 3), dtype=np.uint8))
    with pytest.raises(SizeError, match="size=16 is too small.*at least 32"):
        nst.load_image(_rgb_array(), size=16)


def test_missing_file(image_dir):
    with pytest.raises(FileNotFoundError, match="No image file at .*nope.jpg"):
        nst.load_image(image_dir / "nope.jpg")


def test_truncated_file(image_dir):
    buffer = io.BytesIO()
    PIL.Image.fromarray(_rgb_array(200, 200)).save(buffer, format="PNG")
    (image_dir / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(nst.ImageError, match="damaged or truncated"):
        nst.load_image(image_dir / "cut.png")


def test_not_an_image(image_dir):
    (image_dir / "notes.jpg").write_text("these are my notes, not a picture")
    with pytest.raises(nst.ImageError, match="not an image file"):
        nst.load_image(image_dir / "notes.jpg")


@pytest.mark.parametrize("src, message", [
    (np.zeros((3, 40, 40), dtype=np.uint8), "channels first"),
    (np.full((40, 40, 3), 255.0), r"Divide by 255"),
    (np.zeros((40, 40, 3), dtype=np.int64), "uint8"),
    (torch.full((3, 40, 40), 2.0), r"\[0, 1\]"),
    (12345, "Cannot load an image from a int"),
    (types.SimpleNamespace(value=()), "holds no file yet"),
])
def test_bad_inputs_get_a_clear_error(src, message):
    with pytest.raises(nst.ImageError, match=message):
        nst.load_image(src)


def test_to_numpy_save_and_grid(image_dir):
    array = _rgb_array()
    image = _expected(array)
    assert np.array_equal(nst.to_numpy(image), array)
    nst.save_image(image, image_dir / "sub" / "out.png")
    assert np.array_equal(np.asarray(PIL.Image.open(image_dir / "sub" / "out.png")), array)
    grid = nst.image_grid([image, image, image], ncols=2, pad=4)
    assert grid.shape == (1, 3, 40 * 2 + 4, 60 * 2 + 4)
    assert grid[0, :, 42, 0].tolist() == [1.0, 1.0, 1.0]  # padding is white


def test_to_pil_rounds_to_the_nearest_level_and_refuses_batches_and_non_rgb():
    pixels = [[(0.0, -0.2, 1 / 255), (0.4 / 255, 128 / 255, 2 / 255), (0.6 / 255, 0.25, 3 / 255)],
              [(0.998, 0.75, 0.11), (1.0, 254.4 / 255, 0.2), (1.5, 254.6 / 255, 0.31)]]
    image = torch.tensor(pixels).permute(2, 0, 1)  # (3, 2, 3); truncating would give 0, 63, 254
    expected = [[[0, 0, 1], [0, 128, 2], [1, 64, 3]],
                [[254, 191, 28], [255, 254, 51], [255, 255, 79]]]
    assert nst.to_pil(image).mode == "RGB" and nst.to_pil(image).size == (3, 2)
    assert nst.to_numpy(image[None]).tolist() == expected
    assert nst.to_numpy(image).flags.writeable
    with pytest.raises(ValueError, match="batch of 2.*image_grid"):
        nst.to_pil(torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"RGB image .*got \(1, 4, 4\)"):
        nst.to_pil(torch.rand(1, 1, 4, 4))


def test_image_grid_exact_layout_padding_and_fill():
    a = torch.full((1, 3, 2, 2), 0.2)
    b = torch.full((3, 2, 3), 0.4)      # wider: sets the cell width, a is left-aligned
    c = torch.full((1, 3, 4, 4), 0.6)   # taller: resized to the first image's height
    grid = nst.image_grid([a, b, c], ncols=2, pad=1, fill=0.0)
    assert grid.shape == (1, 3, 2 + 1 + 2, 3 + 1 + 3)
    assert torch.allclose(grid[0, 0], torch.tensor([
        [0.2, 0.2, 0.0, 0.0, 0.4, 0.4, 0.4],
        [0.2, 0.2, 0.0, 0.0, 0.4, 0.4, 0.4],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.6, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.6, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0]]))
    assert torch.equal(grid[0, 0], grid[0, 2])  # gray: every channel alike
    assert torch.equal(nst.image_grid(a), a)  # one image: no padding at all
    assert nst.image_grid([a, b], pad=0).shape == (1, 3, 2, 6)


def test_resize_clamps_to_the_unit_range():
    edge = torch.zeros(1, 3, 8, 8)
    edge[..., 4:] = 1.0
    raw = torch.nn.functional.interpolate(edge, size=(16, 16), mode="bicubic", antialias=True)
    assert raw.min() < 0 and raw.max() > 1  # bicubic overshoots at an edge ...
    assert torch.equal(nst.resize(edge, 16), raw.clamp(0, 1))  # ... and resize clamps it back


def test_overlay_mixes_the_photo_with_the_resized_painting():
    photo = torch.rand(2, 3, 20, 30, generator=torch.Generator().manual_seed(0))
    painting = torch.rand(1, 3, 10, 10, generator=torch.Generator().manual_seed(1))
    stretched = nst.resize(painting, (20, 30))
    torch.testing.assert_close(nst.overlay(photo, painting, 0.25),
                               0.25 * photo + 0.75 * stretched.expand(2, -1, -1, -1))
    assert nst.overlay(photo, painting, 1.0).equal(photo)
    torch.testing.assert_close(nst.overlay(photo[:1], painting, 0), stretched)
    with pytest.raises(ValueError, match="from 0 to 1"):
        nst.overlay(photo, painting, 1.5)
    with pytest.raises(ValueError, match="alpha"):
        nst.overlay(photo, painting, -0.1)
    with pytest.raises(ValueError, match="painting"):
        nst.overlay(photo, torch.rand(2, 3, 10, 10))


# --- hostile files: memory stays bounded, values are read by the image's mode ------------------

def png_declaring(width: int, height: int) -> bytes:
    """A small PNG file whose header declares width x height RGB pixels (its data is short)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(2 ** 20), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def test_a_png_declaring_19000_squared_is_refused_before_decoding(image_dir):
    (image_dir / "bomb.png").write_bytes(png_declaring(19000, 19000))
    assert 19000 ** 2 < PIL.Image.MAX_IMAGE_PIXELS  # under Pillow's own bomb limit
    peak, start = _peak_rss_mb(), time.perf_counter()
    with pytest.raises(nst.ImageError, match=r"19000x19000 pixels \(361 megapixels\); images "
                                             r"up to 67 megapixels"):
        nst.load_image(image_dir / "bomb.png", size=256)
    assert time.perf_counter() - start < 1.0
    assert _peak_rss_mb() - peak < 200  # decoding it would take 1 GB in uint8, 4 GB as floats


def test_pillows_decompression_bomb_error_becomes_an_image_error(image_dir):
    (image_dir / "huge.png").write_bytes(png_declaring(30000, 30000))  # 900 megapixels
    with pytest.raises(nst.ImageError, match="too large to open safely"):
        nst.load_image(image_dir / "huge.png")
    with pytest.raises(nst.ImageError, match="too large to open safely"):
        nst.load_image(png_declaring(30000, 30000))


def test_a_large_jpeg_is_reduced_while_decoding(image_dir):
    width, height = 9000, 8000  # 72 megapixels: over the decoding budget at full size
    assert width * height > MAX_DECODED_PIXELS
    gradient = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)
    PIL.Image.fromarray(np.tile(gradient, (height, 1))).save(image_dir / "big.jpg", quality=90)
    start = time.perf_counter()
    image = nst.load_image(image_dir / "big.jpg", size=450, device="cpu")
    assert time.perf_counter() - start < 5.0
    assert image.shape == (1, 3, 400, 450)
    expected = torch.linspace(0, 1, 450)
    assert (image[0, 0, 200] - expected).abs().max() < 0.03  # the left-to-right ramp survives
    with pytest.raises(nst.ImageError, match="72 megapixels"):  # no reduction as a PNG
        nst.load_image(png_declaring(width, height), size=450)


def test_large_8_bit_arrays_are_reduced_before_they_become_floats():
    y, x = np.mgrid[:1200, :1600] / 150.0
    waves = [np.sin(x + y), np.cos(x - y), np.sin(x) * np.cos(y)]
    array = (127.5 + 127.5 * np.stack(waves, axis=2)).round().astype(np.uint8)
    reduced = nst.load_image(array, size=200, device="cpu")
    direct = nst.resize(_expected(array), 200)
    assert reduced.shape == direct.shape == (1, 3, 150, 200)
    assert (reduced - direct).abs().mean() < 0.01


def test_a_dark_16_bit_png_is_read_as_16_bits(image_dir):
    values = np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) % 256  # all values <= 255
    PIL.Image.fromarray(values).save(image_dir / "dark.png")
    assert PIL.Image.open(image_dir / "dark.png").mode == "I;16"
    image = nst.load_image(image_dir / "dark.png", device="cpu")
    expected = torch.from_numpy(values.astype(np.float32) / 65535)
    assert (image[0, 0] - expected).abs().max() < 0.5 / 65535
    assert torch.equal(image[0, 0], image[0, 2])
    assert image.max() <= 255 / 65535 + 1e-7  # not 257 times too bright


def test_32_bit_integer_images_outside_16_bits_are_refused():
    with pytest.raises(nst.ImageError, match="only 8- and 16-bit"):
        nst.load_image(PIL.Image.fromarray(np.full((40, 40), 70000, dtype=np.int32)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nan_or_infinite_pixel_is_refused(image_dir, bad):
    values = np.full((40, 40), 0.5, dtype=np.float32)
    values[3, 4] = bad
    PIL.Image.fromarray(values).save(image_dir / "float.tif")
    for src in (image_dir / "float.tif", values, np.dstack([values] * 3),
                torch.from_numpy(np.dstack([values] * 3)).permute(2, 0, 1)):
        with pytest.raises(nst.ImageError, match="NaN or infinite|finite values"):
            nst.load_image(src)


def test_a_float_image_is_judged_by_its_mode_not_its_values(image_dir):
    values = np.linspace(0, 1, 40 * 40, dtype=np.float32).reshape(40, 40)
    PIL.Image.fromarray(values).save(image_dir / "unit.tif")
    assert torch.allclose(nst.load_image(image_dir / "unit.tif", device="cpu")[0, 1],
                          torch.from_numpy(values))
    PIL.Image.fromarray(values * 200).save(image_dir / "dark.tif")  # not 8-bit values
    with pytest.raises(nst.ImageError, match=r"values in \[0, 1\]"):
        nst.load_image(image_dir / "dark.tif")


@pytest.mark.parametrize("size, message", [
    (100_000, f"too large: images are made up to {LARGEST_SIZE} pixels"),
    ((64, 100_000), "too large"),
    (0, "too small: the networks need at least 32 pixels on each side; use 32 to"),
    (64.5, "whole number of pixels"),
    ("64", "whole number of pixels"),
    ((64,), "whole number of pixels"),
    (True, "whole number of pixels"),
])
def test_requested_sizes_are_checked_before_any_work(size, message):
    start = time.perf_counter()
    with pytest.raises(SizeError, match=message):
        nst.load_image(_rgb_array(), size=size)
    assert time.perf_counter() - start < 0.5
    assert nst.load_image(_rgb_array(), size=np.int64(48), device="cpu").shape[-1] == 48


@pytest.mark.parametrize("size", [0, 8])
def test_sample_image_sizes_get_a_clear_message(size):
    with pytest.raises(SizeError, match=f"size={size} is too small.*at least 32"):
        nst.sample_image("chelsea", size=size)


# --- addresses in any case, file:// URLs, devices, meta tensors --------------------------------

def test_urls_in_capitals_and_file_urls_are_loaded(image_dir, http_server):
    folder, url = http_server
    array = _rgb_array()
    PIL.Image.fromarray(array).save(folder / "cat.png")
    PIL.Image.fromarray(array).save(image_dir / "cat.png")
    assert torch.equal(nst.load_image(url.replace("http://", "HTTP://") + "/cat.png",
                                      device="cpu"), _expected(array))
    for address in ((image_dir / "cat.png").as_uri(), "FILE://" + str(image_dir / "cat.png")):
        assert torch.equal(nst.load_image(address, device="cpu"), _expected(array))


@pytest.mark.parametrize("device, message", [("cdua", "Did you mean 'cuda'"),
                                             ("meta", "cannot run the course")])
def test_load_image_refuses_a_bad_device_before_reading(device, message):
    with pytest.raises(nst.DeviceError, match=message):
        nst.load_image("no_such_file.png", device=device)


def test_a_meta_tensor_is_refused():
    with pytest.raises(nst.ImageError, match="meta tensor"):
        nst.load_image(torch.empty(1, 3, 40, 40, device="meta"))


def test_the_cheap_image_check_is_the_validation_layers():
    cheap = functools.partial(nst.validate.check_image, pixels=False)
    with pytest.raises(nst.ImageArgumentError, match=r"image\[None\]"):
        cheap(torch.rand(3, 40, 40))
    with pytest.raises(nst.ImageArgumentError, match="meta tensor"):
        cheap(torch.empty(1, 3, 40, 40, device="meta"))
    assert cheap(torch.full((1, 3, 8, 8), 255.0)).shape == (1, 3, 8, 8)
    with pytest.raises(nst.ImageArgumentError, match=r"image\[None\]"):
        nst.color.rgb_to_ycbcr(torch.rand(3, 40, 40))


def test_an_output_that_is_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(nst.OutputError, match="is a folder: give a file name such as"):
        nst.check_output(tmp_path)
