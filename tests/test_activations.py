"""The activations' entropy and the softmax transform (Wang et al., 2021), by hand and in use."""

import math

import pytest
import torch

import nstutils as nst
from nstutils.activations import activation_entropy, layer_entropies, softmax_activations
from nstutils.losses import StyleLoss, gram_matrix
from nstutils.style import synthesize_texture

# One image, one channel, two positions holding 0 and ln 3: softmax gives 1/4 and 3/4.
TWO = torch.tensor([[[[0.0, math.log(3.0)]]]])


def test_softmax_activations_by_hand():
    assert torch.allclose(softmax_activations(TWO), torch.tensor([[[[0.5, 1.5]]]]))
    # temperature 2 halves the values first: softmax(0, ln sqrt 3) = (1, sqrt 3) / (1 + sqrt 3)
    r3 = math.sqrt(3.0)
    expected = torch.tensor([[[[2 / (1 + r3), 2 * r3 / (1 + r3)]]]])
    assert torch.allclose(softmax_activations(TWO, temperature=2.0), expected)


def test_softmax_is_taken_per_image_over_channels_and_positions():
    x = torch.randn(2, 3, 4, 5)
    y = softmax_activations(x)
    assert y.shape == x.shape and (y > 0).all()
    assert torch.allclose(y.mean(dim=(1, 2, 3)), torch.ones(2))
    assert torch.allclose(softmax_activations(x[1:]), y[1:])  # the other image changes nothing


def test_entropy_by_hand():
    # |F| / sum |F| = (1/4, 3/4): H = -(1/4 ln 1/4 + 3/4 ln 3/4) / ln 2 = 0.8113
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / math.log(2)
    assert activation_entropy(torch.tensor([[[[1.0, -3.0]]]])).item() == pytest.approx(h)
    assert activation_entropy(TWO, "softmax").item() == pytest.approx(h)
    assert activation_entropy(torch.full((1, 4, 3, 3), 2.0)).item() == pytest.approx(1.0)
    peak = torch.zeros(1, 4, 3, 3)
    peak[0, 1, 2, 0] = 5.0
    assert activation_entropy(peak).item() == pytest.approx(0.0, abs=1e-6)


def test_entropy_and_softmax_refuse_what_they_cannot_measure():
    with pytest.raises(ValueError, match="all zero"):
        activation_entropy(torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        softmax_activations(torch.ones(3, 4))
    with pytest.raises(ValueError, match="temperature"):
        softmax_activations(TWO, temperature=0.0)
    with pytest.raises(ValueError, match="Unknown style_transform"):
        activation_entropy(TWO, "softmin")


def test_layer_entropies_of_the_default_network_lie_between_0_and_1(model):
    photo = nst.sample_image("chelsea", size=64, device="cpu")
    entropies = layer_entropies(model, photo, ["block1.expand", "block7"])
    assert list(entropies) == ["block1.expand", "block7"]
    assert all(0 < h < 1 for h in entropies.values())


def test_the_style_loss_compares_gram_matrices_of_the_softmax():
    f, a = torch.randn(2, 3, 4, 4), torch.randn(1, 3, 4, 4)
    target = gram_matrix(softmax_activations(a))
    loss = StyleLoss({"l": target}, {"l": 1.0}, transform="softmax")({"l": f})
    expected = (gram_matrix(softmax_activations(f)) - target).pow(2).sum(dim=(1, 2))
    assert torch.allclose(loss, expected)


def test_a_texture_through_the_softmax_matches_its_own_statistics(model):
    swirl = nst.sample_image("swirl", size=64, device="cpu")
    layers = ["block1.expand", "block3.expand"]
    out, history = synthesize_texture(swirl, layers, model, size=64, steps=40, progress=False,
                                      style_transform="softmax", return_history=True)
    assert history.losses["style"][-1] < 0.2 * history.losses["style"][0]
    plain = synthesize_texture(swirl, layers, model, size=64, steps=40, progress=False)
    assert not torch.allclose(out, plain, atol=1e-2)  # the transform changes what is matched
