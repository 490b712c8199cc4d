"""The nst command line: stylize and dream end to end, and one clear line for each bad argument."""

from types import SimpleNamespace

import nbformat
import PIL.Image
import pytest
import torch

import nstutils as nst
from nstutils.cli import main
from tests.test_images import png_declaring

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
    (["dream", "chelsea", "--channel", "5000"], "must be between 0 and"),
    (["stylize", "chelsea", "swirl", "--size", "100000"], "--size: must be at most 8192"),
    (["stylize", "chelsea", "swirl", "--scales", "2", "--steps", "1,2,3"],
     "--steps has 3 counts for 2 scales"),
    (["stylize", "chelsea", "swirl", "--steps", "10,0"], "--steps: must be at least 1, got 0"),
    (["dream", "chelsea", "--no-browser"], "unrecognized arguments: --no-browser"),
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


# --- outputs checked before the work, nothing lost, Ctrl-C saves what was done -------------------

def _one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("command", [["stylize", "IN", "swirl"], ["stylize", "chelsea", "IN"],
                                     ["dream", "IN"]])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_an_input_is_never_overwritten(tmp_path, capsys, command, force):
    photo = nst.save_image(nst.sample_image("coffee", size=64, device="cpu"), tmp_path / "in.png")
    before = photo.read_bytes()
    args = [str(photo) if a == "IN" else a for a in command]
    err = _one_line_error(capsys, main(fast(*args, "-o", str(photo), *force)))
    assert "is one of the inputs" in err
    assert photo.read_bytes() == before


def test_an_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"my earlier result")
    err = _one_line_error(capsys, main(fast("stylize", "chelsea", "swirl", "-o", str(out))))
    assert "already exists" in err and "--force" in err
    assert out.read_bytes() == b"my earlier result"
    assert main(fast("stylize", "chelsea", "swirl", "-o", str(out), "--force")) == 0
    assert max(PIL.Image.open(out).size) == 64


@pytest.mark.parametrize("name, message", [
    ("out.psd", "Pillow reads .psd but cannot write it"),
    ("notes.txt/out.png", "notes.txt is a file, not a folder"),
])
def test_bad_outputs_are_refused_before_the_model_loads(tmp_path, capsys, monkeypatch, name,
                                                          message):
    (tmp_path / "notes.txt").write_text("keep me")

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr("nstutils.models.load_model", no_model)
    err = _one_line_error(capsys, main(fast("stylize", "chelsea", "swirl",
                                            "-o", str(tmp_path / name))))
    assert message in err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("width, message", [(19000, "361 megapixels"),
                                            (30000, "too large to open safely")])
def test_a_hostile_image_gets_one_line(tmp_path, capsys, width, message):
    (tmp_path / "bomb.png").write_bytes(png_declaring(width, width))
    err = _one_line_error(capsys, main(fast("stylize", str(tmp_path / "bomb.png"), "swirl",
                                            "-o", str(tmp_path / "out.png"))))
    assert message in err
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("command, steps_run", [
    (["stylize", "chelsea", "swirl", "--scales", "2"], 3),  # stopped in the coarse scale
    (["dream", "chelsea", "--octaves", "2"], 3),            # stopped in the first octave
])
def test_ctrl_c_saves_what_was_done_at_the_size_asked_for(tmp_path, capsys, ctrl_c_at, command,
                                                          steps_run):
    steps = ctrl_c_at(3)
    out = tmp_path / "out.png"
    code = main(fast(*command, "-o", str(out), "--steps", "5", "--size", "96"))
    err = capsys.readouterr().err
    assert code == 130 and "interrupted; saved the result so far" in err, err
    assert len(steps) == steps_run  # the later scales or octaves never ran
    assert max(PIL.Image.open(out).size) == 96  # the size asked for, not the coarse one


def test_course_on_a_folder_without_notebooks_fails(tmp_path, capsys):
    for html in ([], ["--html", str(tmp_path / "html")]):
        err = _one_line_error(capsys, main(["course", "--notebooks", str(tmp_path), *html]))
        assert f"no notebooks (*.ipynb) in {tmp_path}".lower() in err.lower()


@pytest.mark.parametrize("options, steps, sizes", [
    ([], [300], None),                                           # one scale: the library's default
    (["--scales", "2"], [100, 100], [32, 64]),                   # coarse to fine: 200, not 600
    (["--scales", "3", "--size", "128"], [100, 100, 100], [32, 64, 128]),
    (["--scales", "2", "--steps", "50"], [50, 50], [32, 64]),    # one count for every scale
    (["--scales", "2", "--steps", "80,40"], [80, 40], [32, 64]),  # one per scale, coarse to fine
])
def test_stylize_steps_per_scale(tmp_path, monkeypatch, options, steps, sizes):
    runs = []

    def record(content, style, model, **kwargs):
        runs.append((kwargs["steps"], kwargs["sizes"]))
        return torch.zeros(1, 3, 64, 64), SimpleNamespace(interrupted=False)

    monkeypatch.setattr("nstutils.style.style_transfer", record)
    assert main(["stylize", "chelsea", "swirl", "-o", str(tmp_path / "out.png"), "--size", "64",
                 "--device", "cpu", "--quiet", *options]) == 0
    assert runs == [(steps, sizes)]


def test_course_passes_options_it_does_not_know_to_jupyterlab(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), notebooks / "00_tour.ipynb")
    commands = []
    monkeypatch.setattr("nstutils.cli.subprocess.call", lambda command: commands.append(command) or 0)
    assert main(["course", "--notebooks", str(notebooks), "--no-browser", "--port=8890",
                 "--allow-root", "--ip", "0.0.0.0"]) == 0
    (command,) = commands
    assert command[1:4] == ["-m", "jupyter", "lab"] and command[-1] == str(notebooks)
    assert command[4:-1] == ["--no-browser", "--port=8890", "--allow-root", "--ip", "0.0.0.0"]


def test_course_html_refuses_jupyterlab_options(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), notebooks / "00_tour.ipynb")
    err = _one_line_error(capsys, main(["course", "--notebooks", str(notebooks), "--html",
                                        str(tmp_path / "html"), "--no-browser"]))
    assert "--no-browser: options for JupyterLab do not apply with --html" in err
    assert not (tmp_path / "html").exists()


# --- file:// inputs, Ctrl-C while loading, warnings in one line --------------------------------

def test_a_file_url_input_is_loaded_and_never_overwritten(tmp_path, capsys):
    photo = nst.save_image(nst.sample_image("coffee", size=64, device="cpu"), tmp_path / "in.png")
    before = photo.read_bytes()
    for address in (photo.as_uri(), "FILE://" + str(photo)):
        err = _one_line_error(capsys, main(fast("stylize", address, "swirl", "-o", str(photo),
                                                "--force")))
        assert "is one of the inputs" in err
    assert photo.read_bytes() == before
    out = tmp_path / "out.png"
    assert main(fast("stylize", photo.as_uri(), "swirl", "-o", str(out))) == 0
    assert max(PIL.Image.open(out).size) == 64


def test_ctrl_c_while_loading_is_one_line(tmp_path, capsys, monkeypatch):
    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("nstutils.cli.build_parser", pressed)
    assert main(["dream", "chelsea", "-o", str(tmp_path / "out.png")]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "nst: stopped before anything was saved." and "Traceback" not in err


def test_warnings_are_printed_as_one_line(tmp_path, capsys, monkeypatch):
    from nstutils import validate

    monkeypatch.setattr(validate, "device_memory", lambda device: 60 * 2**20)
    out = tmp_path / "out.png"
    assert main(fast("dream", "chelsea", "-o", str(out), "--octaves", "1", "--steps", "1",
                     "--size", "160")) == 0
    err = capsys.readouterr().err
    assert err.startswith("nst: Dreaming at 160x106 (160x106 pixels, batch 1) needs about"), err
    assert len(err.strip().splitlines()) == 1 and "Warning" not in err
