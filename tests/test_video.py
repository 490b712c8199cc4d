"""Clips: the camera's crops, the flicker measure and its reduction, against hand-checked values."""

import PIL.Image
import pytest
import torch
import torch.nn.functional as F

import nstutils as nst
from nstutils.video import flicker, pan_zoom, save_gif, smooth


def _photo(h, w, seed=0):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


# --- pan_zoom ---------------------------------------------------------------------------------

def test_a_pan_by_whole_pixels_gives_the_exact_crops_and_their_boxes():
    photo = _photo(8, 12)
    clip, boxes = pan_zoom(photo, frames=5, size=8, zoom=1.0, start=(0, 0.5), end=(1, 0.5),
                           return_boxes=True)
    assert clip.shape == (5, 3, 8, 8)
    for t in range(5):  # the 8x8 crop slides from x = 0 to x = 4, one pixel per frame
        torch.testing.assert_close(clip[t], photo[0, :, :, t:t + 8])
    torch.testing.assert_close(boxes[2], torch.tensor([2.0, 0.0, 8.0, 8.0], dtype=torch.float64))


def test_a_zoom_starts_with_the_whole_photo_and_ends_on_the_middle_crop():
    photo = _photo(16, 16)
    clip = pan_zoom(photo, frames=2, size=8, zoom=2.0, start=(0.5, 0.5), end=(0.5, 0.5))
    torch.testing.assert_close(clip[0], F.avg_pool2d(photo, 2)[0])  # 16 px seen as 8: 2x2 means
    torch.testing.assert_close(clip[1], photo[0, :, 4:12, 4:12])


def test_frames_of_another_shape_crop_the_photo_with_that_shape():
    clip, boxes = pan_zoom(_photo(30, 40), frames=3, size=(10, 20), zoom=1.5, return_boxes=True)
    assert clip.shape == (3, 3, 10, 20)
    torch.testing.assert_close(boxes[0], torch.tensor([0.0, 5.0, 40.0, 20.0], dtype=torch.float64))
    torch.testing.assert_close(boxes[:, 2] / boxes[:, 3], torch.full((3,), 2.0, dtype=torch.float64))
    assert boxes[-1, 3] == pytest.approx(20 / 1.5)


def test_pan_zoom_is_deterministic_and_refuses_bad_arguments():
    photo = _photo(40, 60)
    assert torch.equal(pan_zoom(photo, frames=4, size=16), pan_zoom(photo, frames=4, size=16))
    with pytest.raises(nst.NumberError, match="zoom"):
        pan_zoom(photo, zoom=0.5)
    with pytest.raises(nst.ArgumentError, match="start must be"):
        pan_zoom(photo, start=(1.5, 0))
    with pytest.raises(nst.NumberError, match="frames"):
        pan_zoom(photo, frames=0)
    with pytest.raises(nst.ImageArgumentError, match=r"\(1, 3, H, W\)"):
        pan_zoom(photo.expand(2, -1, -1, -1))


# --- flicker ----------------------------------------------------------------------------------

def test_a_still_clip_has_no_flicker():
    assert flicker(_photo(8, 8).expand(4, -1, -1, -1)) == 0.0


def test_a_clip_alternating_two_images_flickers_by_their_mean_absolute_difference():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.25)
    b[..., 0, 0] = 1.0  # |a - b| is 0.25 at 45 values and 1 at 3: mean (45 * 0.25 + 3) / 48
    assert flicker(torch.cat([a, b, a, b])) == pytest.approx((45 * 0.25 + 3) / 48)


def test_with_the_camera_motion_a_filmed_photo_does_not_flicker():
    clip, boxes = pan_zoom(_photo(8, 16), frames=5, size=8, zoom=1.0, start=(0, 0), end=(1, 0),
                           return_boxes=True)
    assert flicker(clip) > 0.2  # the camera moves: every pixel changes
    assert flicker(clip, boxes) == pytest.approx(0.0, abs=1e-5)


def test_flicker_refuses_a_single_frame_and_boxes_of_another_clip():
    with pytest.raises(nst.ImageArgumentError, match="at least 2 frames"):
        flicker(_photo(8, 8))
    with pytest.raises(nst.ArgumentError, match=r"\(T, 4\)"):
        flicker(_photo(8, 8).expand(3, -1, -1, -1), torch.zeros(2, 4))


# --- smooth -----------------------------------------------------------------------------------

def test_smooth_blends_each_frame_with_the_previous_result():
    a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    out = smooth(torch.cat([a, b, b]), keep=0.5)
    torch.testing.assert_close(out[:, 0, 0, 0], torch.tensor([0.0, 0.5, 0.75]))
    assert torch.equal(smooth(torch.cat([a, b]), keep=0.0), torch.cat([a, b]))


def test_smooth_follows_the_camera_and_lowers_the_flicker_of_noisy_frames():
    clip, boxes = pan_zoom(_photo(8, 16), frames=5, size=8, zoom=1.0, start=(0, 0), end=(1, 0),
                           return_boxes=True)
    torch.testing.assert_close(smooth(clip, boxes, keep=0.5), clip)  # a still scene is unchanged
    noisy = (clip + 0.2 * torch.randn(clip.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert flicker(smooth(noisy, boxes), boxes) < 0.7 * flicker(noisy, boxes)
    with pytest.raises(nst.ArgumentError, match="below 1"):
        smooth(clip, keep=1.0)


# --- save_gif ---------------------------------------------------------------------------------

def test_a_gif_keeps_its_frame_count_and_size(tmp_path):
    path = save_gif(pan_zoom(_photo(24, 32), frames=6, size=(12, 20)), tmp_path / "clip.gif", fps=5)
    with PIL.Image.open(path) as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"]) == (6, (20, 12), 200)


def test_save_gif_refuses_other_formats_and_keeps_existing_files_when_asked(tmp_path):
    clip = _photo(8, 8).expand(2, -1, -1, -1)
    with pytest.raises(nst.OutputError, match=".gif"):
        save_gif(clip, tmp_path / "clip.jpg")
    path = save_gif(clip, tmp_path / "clip.gif")
    with pytest.raises(nst.OutputError, match="already exists"):
        save_gif(clip, path, overwrite=False)
