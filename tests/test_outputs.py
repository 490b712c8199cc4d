"""Outputs: checked before the work starts, never an input, never replaced unasked, written atomically."""

import errno
import os

import numpy as np
import PIL.Image
import pytest
import torch

import nstutils as nst
from nstutils.images import OutputError, check_output


def _image(value: float = 0.25) -> torch.Tensor:
    return torch.full((1, 3, 40, 60), value)


def test_an_existing_file_is_kept_unless_overwrite_is_asked(tmp_path):
    path = nst.save_image(_image(0.25), tmp_path / "out.png")
    before = path.read_bytes()
    with pytest.raises(OutputError, match="already exists.*overwrite=True.*--force"):
        nst.save_image(_image(0.75), path)
    assert path.read_bytes() == before
    nst.save_image(_image(0.75), path, overwrite=True)
    assert np.asarray(PIL.Image.open(path))[0, 0, 0] == round(0.75 * 255)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary file left


def test_an_input_is_never_the_output_even_with_overwrite(tmp_path):
    photo = nst.save_image(_image(), tmp_path / "in.png")
    before = photo.read_bytes()
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    for out in (photo, link, tmp_path / "." / "in.png"):
        with pytest.raises(OutputError, match="is one of the inputs"):
            check_output(out, inputs=["chelsea", "https://example.org/x.png", str(photo)],
                         overwrite=True)
    assert photo.read_bytes() == before
    assert check_output(tmp_path / "new.png", inputs=[photo]) == tmp_path / "new.png"


@pytest.mark.parametrize("name, message", [
    ("out.psd", r"out.psd: give the output a picture extension .*Pillow reads .psd but cannot "
                r"write it"),
    ("out.txt", r"\.txt is not a picture format"),
    ("out", "no extension is not a picture format"),
])
def test_formats_pillow_cannot_write_are_refused(tmp_path, name, message):
    with pytest.raises(OutputError, match=message):
        nst.save_image(_image(), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_writable_formats_round_trip(tmp_path):
    for name in ("a.png", "a.jpg", "a.webp", "a.tif", "a.bmp"):
        path = nst.save_image(_image(0.5), tmp_path / name)
        assert PIL.Image.open(path).size == (60, 40)


def test_a_folder_or_a_path_under_a_regular_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match=r"notes.txt is a file, not a folder"):
        check_output(tmp_path / "notes.txt" / "sub" / "out.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match="is a folder: give a file name"):
        check_output(tmp_path / "dir.png")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_missing_folders_are_created(tmp_path):
    path = nst.save_image(_image(), tmp_path / "a" / "b" / "out.png")
    assert path.is_file()


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes into read-only folders: refuse the probe file instead
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr("nstutils.images.tempfile.TemporaryFile", refuse)
    try:
        with pytest.raises(OutputError, match="Cannot write into the folder .*locked"):
            check_output(folder / "out.png")
    finally:
        folder.chmod(0o755)


def test_a_full_disk_leaves_the_old_file_and_no_half_written_one(tmp_path, monkeypatch):
    path = nst.save_image(_image(0.25), tmp_path / "out.png")
    before = path.read_bytes()

    def full_disk(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half an image")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PIL.Image.Image, "save", full_disk)
    with pytest.raises(OutputError, match="Could not write .*out.png \\(No space left on device\\)"
                                          "; nothing was written there"):
        nst.save_image(_image(0.75), path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
