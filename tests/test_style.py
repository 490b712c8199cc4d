"""Style transfer: the losses against hand-computed values, and the optimization doing its job."""

import pytest
import torch

import nstutils as nst
from nstutils.color import match_colors, rgb_to_ycbcr, with_chroma_of, ycbcr_to_rgb
from nstutils.losses import content_loss, gram_matrix, layer_style_loss, style_loss, tv_loss
from nstutils.style import invert_features, style_transfer, synthesize_texture
from nstutils.style_settings import default_layers

# One image, two channels, two positions: channel 0 is (1, 2), channel 1 is (3, 4).
V = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)


@pytest.fixture(scope="module")
def photo():
    return nst.sample_image("chelsea", size=96, device="cpu")


@pytest.fixture(scope="module")
def swirl():
    return nst.sample_image("swirl", size=96, device="cpu")


# --- the losses by hand -----------------------------------------------------------------------

def test_gram_matrix_is_v_vt_with_each_normalization():
    # G = V V^T = [[1+4, 3+8], [3+8, 9+16]]
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]])
    assert torch.equal(gram_matrix(V, normalize="none")[0], expected)
    assert torch.allclose(gram_matrix(V)[0], expected / 2)  # "hw": over H*W = 2 positions
    assert torch.allclose(gram_matrix(V, normalize="chw")[0], expected / 4)
    assert gram_matrix(torch.rand(3, 5, 4, 6)).shape == (3, 5, 5)


def test_gram_matrix_ignores_where_things_are():
    features = torch.rand(1, 4, 3, 5)
    tiled = features.repeat(1, 1, 2, 2)                        # the same texture, twice as big
    shuffled = features.flatten(2)[:, :, torch.randperm(15)].reshape(1, 4, 3, 5)
    assert torch.allclose(gram_matrix(tiled), gram_matrix(features), atol=1e-6)
    assert torch.allclose(gram_matrix(shuffled), gram_matrix(features), atol=1e-6)


def test_gram_matrix_gradient_matches_finite_differences_and_stays_full_precision():
    features = torch.rand(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gram_matrix, (features,))  # the one-product backward
    assert gram_matrix(features).dtype == torch.float64
    assert gram_matrix(torch.rand(1, 4, 8, 8).bfloat16()).dtype == torch.float32
    low = torch.rand(1, 4, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(low)
    assert gram.dtype == torch.float32 and torch.allclose(gram, gram_matrix(low))


def test_content_loss_is_the_sum_of_squared_differences():
    f = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    p = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
    assert content_loss(f, p).tolist() == [9.0]               # 1 + 4 + 4
    assert content_loss(f, p, reduction="mean").tolist() == [3.0]
    batch = torch.cat([f, p])                                 # one target for a batch of two
    assert content_loss(batch, p).tolist() == [9.0, 0.0]


def test_style_losses_by_hand():
    zero = torch.zeros(1, 2, 2)
    # E_l = sum (G - A)^2 with G = [[2.5, 5.5], [5.5, 12.5]] and A = 0.
    assert layer_style_loss(V, zero).item() == pytest.approx(2.5**2 + 2 * 5.5**2 + 12.5**2)
    a = gram_matrix(V)
    assert layer_style_loss(V, a).item() == 0.0
    features = {"l1": V, "l2": 2 * V}                          # l2's Gram is 4 times l1's
    targets = {"l1": zero, "l2": a}
    e1, e2 = 223.0, 9 * 223.0                                  # (4G - G)^2 = 9 G^2
    assert style_loss(features, targets).item() == pytest.approx((e1 + e2) / 2)
    assert style_loss(features, targets, {"l1": 0.5, "l2": 2.0}).item() == \
        pytest.approx(0.5 * e1 + 2 * e2)


def test_tv_loss_by_hand():
    image = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])
    # down: (3-0)^2 + (5-1)^2 = 25; right: (1-0)^2 + (5-3)^2 = 5
    assert tv_loss(image).item() == 30.0
    assert tv_loss(image, reduction="mean").item() == 12.5 + 2.5
    assert tv_loss(torch.ones(2, 3, 4, 4)).tolist() == [0.0, 0.0]


def test_losses_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="same layer"):
        content_loss(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 5, 4))
    with pytest.raises(ValueError, match="normalize"):
        gram_matrix(V, normalize="batch")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gram_matrix(torch.rand(2, 3))


# --- colour -----------------------------------------------------------------------------------

def test_ycbcr_round_trip_and_grey_has_neutral_chroma():
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-5)
    grey = torch.full((1, 3, 2, 2), 0.3)
    assert torch.allclose(rgb_to_ycbcr(grey)[0, :, 0, 0], torch.tensor([0.3, 0.5, 0.5]))


def test_match_colors_gives_the_reference_mean_and_covariance():
    image = torch.rand(1, 3, 32, 32) * 0.5 + 0.25
    reference = torch.rand(1, 3, 16, 16) * torch.tensor([0.4, 0.2, 0.1]).view(1, 3, 1, 1) + 0.3
    out = match_colors(image, reference)
    cov = lambda x: torch.cov(x.flatten(2)[0], correction=0)
    assert torch.allclose(out.mean(dim=(2, 3)), reference.mean(dim=(2, 3)), atol=1e-4)
    assert torch.allclose(cov(out), cov(reference), atol=1e-4)


def test_with_chroma_of_keeps_the_luminance_and_takes_the_chroma():
    image, reference = torch.rand(1, 3, 8, 8) * 0.2 + 0.4, torch.rand(1, 3, 8, 8) * 0.2 + 0.4
    out = rgb_to_ycbcr(with_chroma_of(image, reference))
    assert torch.allclose(out[:, 0], rgb_to_ycbcr(image)[:, 0], atol=1e-5)
    assert torch.allclose(out[:, 1:], rgb_to_ycbcr(reference)[:, 1:], atol=1e-5)


# --- the optimization -------------------------------------------------------------------------

def test_style_transfer_cuts_the_style_loss_tenfold_and_keeps_the_content(model, photo, swirl):
    out, history = style_transfer(photo, swirl, model, steps=80, lr=0.05, progress=False,
                                  return_history=True)
    style = history.losses["style"]
    assert out.shape == photo.shape and 0 <= out.min() and out.max() <= 1
    assert style[-1] <= 0.1 * style[0]
    # Content stays bounded: the result is far closer to the photo, in the content layer's
    # eyes, than the painting itself is.
    layer = default_layers(model)[0][0]
    feats = lambda x: model.features(x, layer)[layer]
    with torch.no_grad():
        target = feats(photo)
        kept = content_loss(feats(out), target).item()
        painting = content_loss(feats(nst.resize(swirl, tuple(photo.shape[-2:]))), target).item()
    assert kept < 0.5 * painting


def test_a_batch_with_per_image_weights_equals_separate_runs(model, photo, swirl):
    small, style = nst.resize(photo, 64), nst.resize(swirl, 64)
    kwargs = dict(steps=8, progress=False)
    batch = style_transfer(small, style, model, style_weight=[1.0, 10.0], **kwargs)
    alone = style_transfer(small, style, model, style_weight=10.0, **kwargs)
    assert batch.shape == (2, 3, *small.shape[-2:])
    # Adam's first steps follow the sign of each gradient, so float noise in tiny gradients
    # moves a few pixels: compare mean differences.
    assert (batch[1:] - alone).abs().mean() < 0.01
    assert (batch[:1] - alone).abs().mean() > 0.05


def test_luminance_transfer_keeps_the_photos_chroma(model, photo, swirl):
    small, style = nst.resize(photo, 64), nst.resize(swirl, 64)
    kept = style_transfer(small, style, model, steps=20, preserve_color="luminance", progress=False)
    plain = style_transfer(small, style, model, steps=20, progress=False)
    histogram = style_transfer(small, style, model, steps=20, preserve_color="histogram",
                               progress=False)
    chroma = lambda x: rgb_to_ycbcr(x)[:, 1:]
    error = lambda x: (chroma(x) - chroma(small)).abs().mean().item()
    assert error(kept) < 0.01                   # only clamping to [0, 1] moves the chroma
    assert error(plain) > 5 * error(kept)       # the blue swirl recolours the cat
    assert error(histogram) < 0.75 * error(plain)  # the style recoloured with the photo's colours


def test_style_blend_weights_select_the_styles(model, photo, swirl):
    small = nst.resize(photo, 64)
    mosaic = nst.sample_image("mosaic", size=64, device="cpu")
    kwargs = dict(steps=5, progress=False)
    only_swirl = style_transfer(small, nst.resize(swirl, 64), model, **kwargs)
    blended = style_transfer(small, [nst.resize(swirl, 64), mosaic], model,
                             style_blend=[1.0, 0.0], **kwargs)
    assert torch.allclose(blended, only_swirl, atol=1e-5)


def test_multiscale_ends_at_the_last_size_and_records_every_step(model, photo, swirl):
    out, history = style_transfer(photo, swirl, model, steps=[4, 3], sizes=[48, 96],
                                  progress=False, return_history=True)
    assert max(out.shape[-2:]) == 96 and history.steps == 7
    assert len(history.losses["style"]) == 7


def test_noise_init_is_repeatable_with_a_seed(model, photo, swirl):
    small, style = nst.resize(photo, 48), nst.resize(swirl, 48)

    def run(seed):
        return style_transfer(small, style, model, steps=2, init="noise", seed=seed,
                              progress=False)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_lbfgs_lowers_the_loss(model, photo, swirl):
    _, history = style_transfer(photo, swirl, model, steps=20, optimizer="lbfgs",
                                progress=False, return_history=True)
    assert history.losses["total"][-1] < 0.5 * history.losses["total"][0]


def test_feature_inversion_from_noise_matches_the_layer(model, photo):
    small = nst.resize(photo, 64)
    out, history = invert_features(small, "block2", model, steps=40, lr=0.05, progress=False,
                                   return_history=True)
    assert out.shape == small.shape
    assert history.losses["content"][-1] < 0.2 * history.losses["content"][0]


def test_texture_synthesis_matches_the_gram_matrices(model, swirl):
    out, history = synthesize_texture(swirl, ["block1.expand", "block3.expand"], model, size=64,
                                      steps=40, lr=0.05, batch=2, progress=False,
                                      return_history=True)
    assert out.shape == (2, 3, 64, 64)
    assert history.losses["style"][-1] < 0.1 * history.losses["style"][0]
    assert not torch.allclose(out[0], out[1])  # two textures from two different noises


def test_each_pixel_constraint_does_what_it_says(model, photo, swirl):
    # A rate far too high throws pixels past 0 and 1: clamped, they stop there; unconstrained,
    # they leave [0, 1]; through a sigmoid they stay strictly inside.
    small = nst.resize(photo, 48)
    run = lambda pixels: style_transfer(small, swirl, model, steps=3, lr=0.5, pixels=pixels,
                                        progress=False)
    clamped, free, squashed = run("clamp"), run("none"), run("sigmoid")
    assert clamped.min() == 0 and clamped.max() == 1
    assert free.min() < -0.1 and free.max() > 1.1
    assert 0 < squashed.min() and squashed.max() < 1


def test_the_caller_s_images_and_lists_are_not_changed(model, photo, swirl):
    small, style = nst.resize(photo, 48).clone(), nst.resize(swirl, 48).clone()
    before, layers = small.clone(), ["block1.expand", "block3.expand"]
    style_transfer(small, [style], model, steps=2, style_layers=layers, progress=False)
    assert torch.equal(small, before) and layers == ["block1.expand", "block3.expand"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(style_weight=-1.0), "style_weight must be 0 or more"),
    (dict(content_weight=[1.0, 2.0], style_weight=[1.0, 2.0, 3.0]), "different lengths"),
    (dict(init="zeros"), "Unknown init"),
    (dict(optimizer="sgd"), "Unknown optimizer"),
    (dict(preserve_color="sepia"), "Unknown preserve_color"),
    (dict(sizes=[96, 48]), "coarse to fine"),
    (dict(sizes=[16, 48]), "at least 32"),
    (dict(steps=[5, 5]), "one per size"),
    (dict(style_blend=[1.0, 2.0]), "one per style image"),
    (dict(style_scale=0.1), "larger style_scale"),
    (dict(style_layer_weights=[1.0]), "one per layer"),
    (dict(tv_weight=-2.0), "tv_weight"),
    (dict(pixels="tanh"), "Unknown pixels"),
    (dict(style_transform="log"), "Unknown style_transform"),
])
def test_bad_arguments_say_what_to_do(model, photo, swirl, kwargs, message):
    with pytest.raises(ValueError, match=message):
        style_transfer(nst.resize(photo, 48), swirl, model, **({"steps": 1} | kwargs),
                       progress=False)


def test_unknown_layers_and_bad_images_get_clear_errors(model, photo, swirl):
    with pytest.raises(nst.UnknownLayerError, match="block99"):
        style_transfer(photo, swirl, model, steps=1, style_layers=["block99"], progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        style_transfer(photo * 255, swirl, model, steps=1, progress=False)
    with pytest.raises(TypeError, match="load_image"):
        style_transfer("chelsea.jpg", swirl, model, steps=1, progress=False)
    with pytest.raises(ValueError, match="No default"):
        default_layers("googlenet")


def test_bfloat16_autocast_reaches_the_float32_losses_within_5_percent(model, photo, swirl):
    small, style = nst.resize(photo, 64), nst.resize(swirl, 64)
    finals = {}
    for autocast in (False, True):
        _, history = style_transfer(small, style, model, steps=80, autocast=autocast,
                                    progress=False, return_history=True)
        finals[autocast] = history.losses
    # The trajectories differ in detail, as two seeds would; the losses they reach agree.
    assert finals[True]["total"][-1] == pytest.approx(finals[False]["total"][-1], rel=0.05)
    assert finals[True]["style"][-1] < 0.1 * finals[True]["style"][0]


def test_one_ctrl_c_in_the_coarse_scale_returns_the_size_asked_for(model, monkeypatch):
    from nstutils import style

    photo = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    original, calls = style._features, []

    def stop_in_the_first_scale(*args):
        calls.append(1)
        if len(calls) == 6:  # targets, then a few steps of the first scale
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(style, "_features", stop_in_the_first_scale)
    out, history = nst.style_transfer(photo, photo.flip(-1), model, steps=5, sizes=[64, 96],
                                      progress=False, return_history=True)
    assert history.interrupted and history.steps < 5
    assert out.shape == (1, 3, 64, 96)
