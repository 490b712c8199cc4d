"""The nst command line: stylize and dream end to end, and one clear line for each bad argument."""

import PIL.Image
import pytest

import nstutils as nst
from nstutils.cli import main

FAST = ["--size", "64", "--steps", "3", "--device", "cpu", "--quiet"]


def fast(*args: str) -> list[str]:
    """The arguments plus FAST's options that they do not set themselves."""
    pairs = [FAST[i:i + 2] for i in (0, 2, 4)]
    return [*args, *[a for p in pairs if p[0] not in args for a in p], "--quiet"]


def test_stylize_end_to_end_with_a_generated_style(tmp_path, capsys):
    out = tmp_path / "cat_swirl.png"
    assert main(["stylize", "chelsea", "swirl", "-o", str(out), *FAST]) == 0
    image = PIL.Image.open(out)
    assert max(image.size) == 64 and image.mode == "RGB"
    assert capsys.readouterr().err == ""


def test_stylize_takes_files_urls_and_every_knob(tmp_path, http_server):
    folder, base = http_server
    nst.save_image(nst.sample_image("mosaic", size=80, device="cpu"), folder / "mosaic.png")
    photo = nst.save_image(nst.sample_image("coffee", size=80, device="cpu"),
                           tmp_path / "coffee.jpg")
    out = tmp_path / "result.jpg"
    code = main(fast("stylize", str(photo), f"{base}/mosaic.png", "waves", "--blend", "3,1",
                     "-o", str(out), "--preserve-color", "histogram", "--init", "noise",
                     "--optimizer", "lbfgs", "--style-weight", "5", "--content-weight", "2",
                     "--tv-weight", "0", "--style-scale", "1.5", "--scales", "2", "--seed", "3",
                     "--content-layers", "block5", "--style-layers",
                     "block1.expand,block3.expand", "--size", "96"))
    assert code == 0 and max(PIL.Image.open(out).size) == 96


def test_dream_end_to_end(tmp_path):
    out = tmp_path / "dream.png"
    assert main(fast("dream", "chelsea", "-o", str(out), "--layer", "block4", "--octaves", "2",
                     "--channel", "3", "--size", "96")) == 0
    assert max(PIL.Image.open(out).size) == 96


@pytest.mark.parametrize("args, message", [
    (["stylize", "no_such_photo.jpg", "swirl"], "neither a file, a URL, nor a sample name"),
    (["stylize", "chelsea", "swirl", "--style-weight", "-1"], "--style-weight: must be at least 0"),
    (["stylize", "chelsea", "swirl", "--size", "8"], "--size: must be at least 32"),
    (["stylize", "chelsea", "swirl", "--size", "big"], "'big' is not an integer"),
    (["stylize", "chelsea", "swirl", "--style-layers", "block99"], "has no layer 'block99'"),
    (["stylize", "chelsea", "swirl", "--preserve-color", "sepia"], "invalid choice: 'sepia'"),
    (["stylize", "chelsea", "swirl", "--blend", "1,1"], "--blend has 2 weights for 1 STYLE"),
    (["stylize", "chelsea", "swirl", "--scales", "4"], "keep size / 2^(scales - 1)"),
    (["stylize", "chelsea", "swirl", "--device", "tpu"], "is not a device"),
    (["dream", "chelsea", "--layer", "logits"], "spatial layer"),
    (["dream", "chelsea", "--channel", "5000"], "channel must be between 0 and"),
])
def test_bad_arguments_get_one_clear_line_and_status_2(tmp_path, capsys, args, message):
    code = main(fast(*args, "-o", str(tmp_path / "out.png")))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_an_output_without_a_picture_extension_is_refused(tmp_path, capsys):
    assert main(["stylize", "chelsea", "swirl", "-o", str(tmp_path / "out.txt"), *FAST]) == 2
    assert "picture extension" in capsys.readouterr().err
