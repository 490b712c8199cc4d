"""DeepDream: it climbs its objective, one backward pass a step, tiles match the whole image."""

import PIL.Image
import pytest
import torch

import nstutils as nst
from nstutils.dream import (
    deep_dream,
    dream_gradient,
    dream_objective,
    dream_zoom,
    octave_sizes,
    save_gif,
    zoom,
)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return nst.sample_image("astronaut", size=(96, 96), device="cpu")


@pytest.mark.parametrize("options", [{"layers": "block5"},
                                     {"layers": ["block3", "block6"], "channel": 7},
                                     {"layers": "block6", "tile": 48}])
def test_the_dream_climbs_its_objective(model, photo, options):
    before = dream_objective(photo, model, options["layers"], options.get("channel"))
    dream = deep_dream(photo, model, octaves=2, steps=4, progress=False, **options)
    after = dream_objective(dream, model, options["layers"], options.get("channel"))
    assert after > 1.2 * before
    assert dream.shape == photo.shape and 0 <= dream.min() and dream.max() <= 1


def test_guided_dream_climbs_the_similarity_to_the_guide(model, photo):
    guide = nst.sample_image("coffee", size=64, device="cpu")
    before = dream_objective(photo, model, "block8", guide=guide)
    dream = deep_dream(photo, model, "block8", guide=guide, octaves=1, steps=5, progress=False)
    after = dream_objective(dream, model, "block8", guide=guide)
    assert after > before + 2


def test_the_dream_is_repeatable_and_leaves_its_input_alone(model, photo):
    original = photo.clone()
    a = deep_dream(photo, model, "block4", octaves=1, steps=2, progress=False, seed=3)
    b = deep_dream(photo, model, "block4", octaves=1, steps=2, progress=False, seed=3)
    assert torch.equal(a, b)
    assert torch.equal(photo, original)
    assert not torch.equal(a, photo)


def test_zero_steps_leave_the_photo_unchanged(model, photo):
    dream = deep_dream(photo, model, octaves=1, steps=0, progress=False)
    assert torch.equal(dream, photo)


@pytest.mark.parametrize("options, tile, margin, tolerance", [
    ({"layers": "block3"}, 32, None, 1e-4),     # the default margin covers block3's view
    ({"layers": "block6"}, 32, 48, 0.02),
    ({"layers": ["block3", "block5"], "channel": 3}, 32, 48, 0.02),
    ({"layers": "block5", "guide": "coffee"}, 32, 48, 0.02),
], ids=["block3", "block6", "two layers, one channel", "guided"])
def test_the_tiled_gradient_matches_the_whole_image_gradient(model, options, tile, margin,
                                                             tolerance):
    image = nst.sample_image("astronaut", size=(128, 128), device="cpu")
    if "guide" in options:
        options = {**options, "guide": nst.sample_image(options["guide"], size=64, device="cpu")}
    value, whole = dream_gradient(image, model, **options)
    tiled_value, tiled = dream_gradient(image, model, **options, tile=tile, margin=margin)
    assert tiled.shape == whole.shape == image.shape
    assert (tiled - whole).norm() < tolerance * whole.norm()
    assert tiled_value == pytest.approx(value, rel=tolerance)
    assert value == pytest.approx(dream_objective(image, model, **options), rel=1e-5)
    _, no_context = dream_gradient(image, model, **options, tile=tile, margin=0)
    assert (no_context - whole).norm() > 5 * (tiled - whole).norm()  # the margin is what helps


@pytest.mark.parametrize("tile, tiles", [(None, 1), (48, 4)], ids=["whole", "tiled"])
def test_each_step_is_one_backward_pass(model, photo, monkeypatch, tile, tiles):
    """Whole image: one forward and one backward a step. Tiled: still one backward a step,
    which runs each tile's forward once more (memory holds one tile at a time)."""
    steps, counts = 3, {"forward": 0, "backward through the network": 0, "backward calls": 0}
    backward = torch.Tensor.backward

    def counted_backward(self, *args, **kwargs):
        counts["backward calls"] += 1
        return backward(self, *args, **kwargs)

    def no_grad_call(*args, **kwargs):
        raise AssertionError("torch.autograd.grad: a backward pass outside the step's own")

    def count(module, inputs, output):
        counts["forward"] += 1
        output.register_hook(lambda g: counts.update({"backward through the network":
                                                      counts["backward through the network"] + 1}))

    model.stride("block4")  # measure the layer shapes before counting
    monkeypatch.setattr(torch.Tensor, "backward", counted_backward)
    monkeypatch.setattr(torch.autograd, "grad", no_grad_call)
    stem = next(m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d))
    handle = stem.register_forward_hook(count)
    try:
        deep_dream(photo, model, "block4", octaves=1, steps=steps, tile=tile, progress=False)
    finally:
        handle.remove()
    assert counts == {"forward": steps * tiles * (1 if tile is None else 2),
                      "backward through the network": steps * tiles, "backward calls": steps}


def test_octave_sizes_by_hand():
    assert octave_sizes(100, 140, 3, 1.4, 32) == [(51, 71), (71, 100), (100, 140)]
    assert octave_sizes(100, 140, 1, 1.4, 32) == [(100, 140)]
    with pytest.raises(ValueError, match="octaves=2 or fewer"):
        octave_sizes(60, 80, 3, 1.4, 32)


def test_zoom_crops_the_centre_and_keeps_the_size():
    image = torch.zeros(1, 3, 40, 40)
    image[..., 10:30, 10:30] = 1.0
    zoomed = zoom(image, 2.0)
    assert zoomed.shape == image.shape
    assert zoomed[..., 5:35, 5:35].min() > 0.99   # the white centre now fills the frame
    assert torch.equal(zoom(image, 1.0), image)


def test_dream_zoom_writes_a_looping_gif(model, tmp_path):
    image = nst.sample_image("rocket", size=64, device="cpu")
    path = tmp_path / "zoom.gif"
    frames = dream_zoom(image, model, frames=3, factor=1.1, path=path, layers="block3",
                        steps=1, progress=False)
    assert len(frames) == 3 and all(f.shape == image.shape for f in frames)
    with PIL.Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (64, 43)
    with pytest.raises(ValueError, match="no frames"):
        save_gif([], tmp_path / "empty.gif")


def test_every_option_the_command_line_passes_changes_the_dream(model, photo):
    """nst dream passes layers, channel, octaves, steps, lr and seed: each one must count."""
    plain = {"layers": "block4", "octaves": 1, "steps": 2, "lr": 0.01, "seed": 0}
    reference = deep_dream(photo, model, progress=False, **plain)
    for change in [{"layers": "block6"}, {"channel": 5}, {"octaves": 2}, {"steps": 3},
                   {"lr": 0.03}, {"seed": 1}]:
        dream = deep_dream(photo, model, progress=False, **{**plain, **change})
        assert not torch.equal(dream, reference), change


def test_clear_errors(model, photo):
    with pytest.raises(nst.UnknownLayerError, match="block77"):
        deep_dream(photo, model, "block77", progress=False)
    with pytest.raises(ValueError, match="between 0 and 39"):
        deep_dream(photo, model, "block3", channel=40, progress=False)
    with pytest.raises(ValueError, match="not 'logits'"):
        deep_dream(photo, model, "logits", progress=False)
    with pytest.raises(ValueError, match="either a channel or a guide"):
        deep_dream(photo, model, "block3", channel=1, guide=photo, progress=False)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        deep_dream(photo[0], model, progress=False)
    with pytest.raises(ValueError, match="octaves=4 or fewer"):
        deep_dream(photo, model, octaves=6, progress=False)


def _stop_at(monkeypatch, module, name, call):
    """Make ``module.name`` raise KeyboardInterrupt (Ctrl-C) at its ``call``-th call."""
    original, calls = getattr(module, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return calls


def test_one_ctrl_c_stops_every_octave_and_returns_the_full_size(model, monkeypatch):
    from nstutils import dream

    photo = torch.rand(1, 3, 96, 80, generator=torch.Generator().manual_seed(0))
    calls = _stop_at(monkeypatch, dream, "_tiled_value", 3)
    out, history = nst.deep_dream(photo, model, octaves=3, steps=5, progress=False,
                                  return_history=True)
    assert len(calls) == 3  # the first octave stopped, the others never started
    assert history.interrupted and history.steps == 2
    assert out.shape == photo.shape and 0 <= float(out.min()) and float(out.max()) <= 1


def test_one_ctrl_c_stops_every_zoom_frame(model, monkeypatch, tmp_path):
    from nstutils import dream

    photo = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    _stop_at(monkeypatch, dream, "_tiled_value", 7)  # in the second frame
    frames = nst.dream_zoom(photo, model, frames=5, steps=5, path=tmp_path / "z.gif",
                            progress=False)
    assert len(frames) == 2 and (tmp_path / "z.gif").is_file()


# --- the zoom GIF: checked before the first frame, written atomically ---------------------------

@pytest.mark.parametrize("name, kwargs, message", [
    ("zoom.jpg", {}, r"\.gif extension \(\.jpg cannot hold one\)"),
    ("zoom.psd", {}, r"\.gif extension \(\.psd cannot hold one\)"),
    ("notes.txt/zoom.gif", {}, "notes.txt is a file, not a folder"),
    ("old.gif", {"overwrite": False}, "already exists"),
    ("zoom.gif", {"fps": 0}, "fps must be 1 or more"),
])
def test_the_gif_path_is_checked_before_the_first_frame(model, monkeypatch, tmp_path, name,
                                                         kwargs, message):
    from nstutils import dream

    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "old.gif").write_bytes(b"my earlier zoom")

    def no_dream(*args, **kwargs):
        raise AssertionError("a frame was dreamed before the GIF path was checked")

    monkeypatch.setattr(dream, "deep_dream", no_dream)
    with pytest.raises(ValueError, match=message):
        dream_zoom(torch.rand(1, 3, 64, 64), model, frames=2, path=tmp_path / name,
                   progress=False, **kwargs)
    assert (tmp_path / "old.gif").read_bytes() == b"my earlier zoom"
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_save_gif_writes_atomically_and_replaces_only_when_allowed(tmp_path, monkeypatch):
    frames = [torch.full((1, 3, 40, 40), v) for v in (0.2, 0.8)]
    path = tmp_path / "z.gif"
    path.write_bytes(b"my earlier zoom")
    with pytest.raises(nst.OutputError, match="already exists"):
        save_gif(frames, path, overwrite=False)
    assert path.read_bytes() == b"my earlier zoom"

    def disk_full(self, fp, *args, **kwargs):
        fp.write(b"GIF89a half")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(PIL.Image.Image, "save", disk_full)
        with pytest.raises(nst.OutputError, match="No space left on device.*nothing was written"):
            save_gif(frames, path)
    assert path.read_bytes() == b"my earlier zoom"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.gif"]  # no temporary file left
    save_gif(frames, path)  # replacing is the default, as before
    with PIL.Image.open(path) as gif:
        assert gif.n_frames == 2
    with PIL.Image.open(save_gif(frames, tmp_path / "z.webp")) as webp:
        assert webp.n_frames == 2  # any format that holds frames
