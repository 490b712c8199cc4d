"""Real-time style transfer: the mean/std loss by hand, the stylizer, its training, files and CLI."""

import math

import PIL.Image
import pytest
import torch

import nstutils as nst
from nstutils.cli import main
from nstutils.losses import layer_mean_std_loss, mean_std, mean_std_loss
from nstutils.optim import OptimizationError
from nstutils.stylizer import Stylizer, StylizerFileError, load_stylizer, train_stylizer

EPS = 1e-5
TINY = {"size": 32, "batch": 2, "width": 4, "blocks": 1, "device": "cpu", "progress": False}
CLI_TINY = ["--size", "32", "--steps", "2", "--batch", "1", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def photos():
    """Two fixed 32 x 32 photos."""
    return torch.cat([nst.sample_image(n, size=(32, 32), device="cpu") for n in ("coffee", "rocket")])


@pytest.fixture(scope="module")
def swirl():
    return nst.sample_image("swirl", size=64, device="cpu")


@pytest.fixture(scope="module")
def trained(swirl, photos):
    """A tiny stylizer trained for three steps."""
    return train_stylizer(swirl, photos=photos, steps=3, **TINY)


# --- the mean/std style loss by hand ------------------------------------------------------------

def test_mean_std_by_hand():
    # channel 0 is (1, 3): mean 2, variance 1; channel 1 is (5, 5): mean 5, variance 0
    features = torch.tensor([[[[1.0, 3.0]], [[5.0, 5.0]]]])  # (1, 2, 1, 2)
    stats = mean_std(features)
    assert stats.shape == (1, 2, 2)
    assert torch.allclose(stats[0], torch.tensor([[2.0, math.sqrt(1 + EPS)], [5.0, math.sqrt(EPS)]]))
    # E_l = sum_c (mu_c - mu_c^t)^2 + (sigma_c - sigma_c^t)^2 against mu^t = sigma^t = 0
    target = torch.zeros(1, 2, 2)
    assert layer_mean_std_loss(features, target).item() == pytest.approx(4 + 1 + 25, rel=1e-4)
    assert layer_mean_std_loss(features, stats).item() == 0.0
    other = torch.rand(1, 2, 4, 3)
    both = {"a": features, "b": other}
    targets = {"a": target, "b": mean_std(other)}
    assert mean_std_loss(both, targets).item() == pytest.approx(30 / 2, rel=1e-4)
    assert mean_std_loss(both, targets, {"a": 0.5, "b": 3.0}).item() == pytest.approx(15, rel=1e-4)


def test_mean_std_is_zero_for_the_same_statistics_whatever_the_layout():
    features = torch.rand(2, 3, 4, 5)
    shuffled = features.flatten(2)[:, :, torch.randperm(20)].reshape(2, 3, 4, 5)
    assert torch.allclose(layer_mean_std_loss(shuffled, mean_std(features)), torch.zeros(2),
                          atol=1e-10)


def test_style_transfer_takes_the_mean_std_statistic(model, photos, swirl):
    out = nst.style_transfer(photos[:1], swirl, model, steps=2, style_stat="mean_std",
                             progress=False)
    assert out.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="style_stat='cov'"):
        nst.style_transfer(photos[:1], swirl, model, steps=2, style_stat="cov", progress=False)


# --- the network --------------------------------------------------------------------------------

def test_any_size_keeps_its_shape_and_range():
    stylizer = Stylizer(width=4, blocks=1)
    for h, w in ((37, 53), (8, 9), (64, 32)):
        out = stylizer(torch.rand(2, 3, h, w))
        assert out.shape == (2, 3, h, w)
        assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert not any(p.requires_grad for p in stylizer.parameters())
    with pytest.raises(nst.SizeError, match="at least 8 pixels"):
        stylizer(torch.rand(1, 3, 7, 40))
    with pytest.raises(nst.ImageArgumentError):
        stylizer(torch.rand(3, 40, 40))


def test_training_lowers_the_loss_on_a_fixed_batch(model, swirl, photos):
    stylizer = train_stylizer(swirl, model, photos=photos, steps=20, augment=False,
                              log_every=1, **TINY)
    total = stylizer.history.losses["total"]
    assert len(total) == 20 and set(stylizer.history.losses) == {"content", "style", "tv", "total"}
    assert sum(total[-5:]) < 0.7 * sum(total[:5])  # about 0.45 for seeds 0, 1 and 2
    assert stylizer.settings["steps"] == 20 and stylizer.settings["width"] == 4
    assert stylizer.settings["style"] == "image" and stylizer.settings["style_stat"] == "gram"
    assert not any(p.requires_grad for p in stylizer.parameters())


def test_training_with_mean_std_and_on_a_folder(model, swirl, tmp_path):
    for name in ("coffee", "rocket"):
        nst.save_image(nst.sample_image(name, size=48, device="cpu"), tmp_path / f"{name}.png")
    (tmp_path / "notes.txt").write_text("not a picture: skipped")
    stylizer = train_stylizer(swirl, model, photos=tmp_path, steps=2, style_stat="mean_std",
                              **TINY)
    assert stylizer.settings["photos"] == str(tmp_path)
    assert stylizer.settings["style_stat"] == "mean_std"


def test_bad_photo_folders_get_clear_errors(model, swirl, tmp_path):
    with pytest.raises(nst.ArgumentError, match="No pictures"):
        train_stylizer(swirl, model, photos=tmp_path, steps=1, **TINY)
    with pytest.raises(nst.ArgumentError, match="is not a folder"):
        train_stylizer(swirl, model, photos=tmp_path / "missing", steps=1, **TINY)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(nst.ImageError, match="broken.jpg"):
        train_stylizer(swirl, model, photos=tmp_path, steps=1, **TINY)


def test_ctrl_c_keeps_what_was_trained(model, swirl, photos, ctrl_c_at):
    ctrl_c_at(3)
    stylizer = train_stylizer(swirl, model, photos=photos, steps=10, **TINY)
    assert stylizer.history.interrupted and stylizer.history.steps == 2
    assert stylizer.settings["interrupted"] and stylizer.settings["steps"] == 2


def test_a_diverging_run_stops_with_advice(model, swirl, photos):
    with pytest.raises(OptimizationError, match="style_weight=1e"):
        train_stylizer(swirl, model, photos=photos, steps=3, style_weight=1e39, log_every=1,
                       **TINY)


# --- saving and loading -------------------------------------------------------------------------

def test_a_saved_stylizer_reloads_to_the_same_output(trained, tmp_path):
    path = trained.save(tmp_path / "swirl.pt")
    again = load_stylizer(path, device="cpu")
    x = torch.rand(1, 3, 37, 53)
    assert torch.equal(trained(x), again(x))
    assert again.settings == trained.settings
    assert again.history.losses == trained.history.losses and again.history.steps == 3
    with pytest.raises(nst.OutputError, match="already exists"):
        trained.save(path)
    trained.save(path, overwrite=True)


def _truncated(trained, path):
    trained.save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edited(trained, path, **changes):
    trained.save(path)
    state = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    path.unlink()
    torch.save(state, path)


@pytest.mark.parametrize("make, message", [
    (lambda t, p: p.write_bytes(bytes(range(256)) * 4), "not a stylizer file"),
    (lambda t, p: p.write_bytes(b""), "not a stylizer file"),
    (lambda t, p: torch.save({"weights": torch.zeros(3)}, p), "not a stylizer"),
    (lambda t, p: torch.save(torch.zeros(3), p), "not a stylizer"),
    (_truncated, "not a stylizer file, or it is damaged"),
    (lambda t, p: _edited(t, p, weights=None), "missing"),
    (lambda t, p: _edited(t, p, settings={**t.settings, "width": 6}), "do not fit"),
    (lambda t, p: _edited(t, p, settings={**t.settings, "blocks": 10**6}), "do not fit"),
    (lambda t, p: _edited(t, p, weights={"net.0.1.weight": torch.zeros(1)}), "do not fit"),
])
def test_a_bad_file_gets_a_clear_error(trained, tmp_path, make, message):
    path = tmp_path / "bad.pt"
    make(trained, path)
    with pytest.raises(StylizerFileError, match=message) as info:
        load_stylizer(path, device="cpu")
    assert "train-style" in str(info.value)
    with pytest.raises(FileNotFoundError, match="No stylizer file"):
        load_stylizer(tmp_path / "missing.pt", device="cpu")


# --- the command line ---------------------------------------------------------------------------

def test_train_style_and_stylize_end_to_end(tmp_path, capsys):
    model_file, out = tmp_path / "swirl.pt", tmp_path / "cat.png"
    assert main(["train-style", "swirl", "-o", str(model_file), *CLI_TINY]) == 0
    assert load_stylizer(model_file, device="cpu").settings["style"] == "swirl"
    assert main(["stylize", "chelsea", "--stylizer", str(model_file), "-o", str(out),
                 "--size", "48", "--device", "cpu", "--quiet"]) == 0
    assert max(PIL.Image.open(out).size) == 48
    assert capsys.readouterr().err == ""


def _one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args, message", [
    (["stylize", "chelsea", "swirl", "--stylizer", "STYLIZER", "-o", "OUT.png"], "not both"),
    (["stylize", "chelsea", "-o", "OUT.png"], "give a STYLE image, or --stylizer FILE"),
    (["stylize", "chelsea", "--stylizer", "BAD", "-o", "OUT.png"], "not a stylizer file"),
    (["stylize", "chelsea", "--stylizer", "MISSING", "-o", "OUT.png"], "No stylizer file"),
    (["train-style", "swirl", "-o", "STYLIZER"], "already exists"),
    (["train-style", "swirl", "-o", "OUT.pt", "--photos", "MISSING"], "is not a folder"),
    (["train-style", "swirl", "-o", "OUT.pt", "--style-stat", "cov"], "invalid choice: 'cov'"),
    (["train-style", "no_such_style", "-o", "OUT.pt"], "neither a file, a URL, nor a sample"),
    (["train-style", "BAD", "-o", "BAD", "--force"], "is one of the inputs"),
])
def test_bad_arguments_get_one_line_and_status_2(tmp_path, capsys, args, message):
    names = {"STYLIZER": tmp_path / "a.pt", "BAD": tmp_path / "bad.png",
             "MISSING": tmp_path / "missing", "OUT.png": tmp_path / "out.png",
             "OUT.pt": tmp_path / "out.pt"}
    Stylizer(width=4, blocks=1).save(names["STYLIZER"])
    names["BAD"].write_bytes(b"random bytes")
    extra = CLI_TINY if args[0] == "train-style" else ["--size", "32", "--device", "cpu", "--quiet"]
    err = _one_line_error(capsys, main([str(names.get(a, a)) for a in args] + extra))
    assert message in err, err
    assert not names["OUT.png"].exists() and not names["OUT.pt"].exists()


def test_train_style_ctrl_c_saves_the_stylizer_so_far(tmp_path, capsys, ctrl_c_at):
    ctrl_c_at(2)
    out = tmp_path / "swirl.pt"
    code = main(["train-style", "swirl", "-o", str(out), *CLI_TINY, "--steps", "5"])
    err = capsys.readouterr().err
    assert code == 130 and "saved the stylizer trained so far (1 of 5 steps)" in err, err
    assert load_stylizer(out, device="cpu").history.interrupted
