"""Comparing networks: which ones, their layers, and the judges of a painting (lesson 10)."""

import pytest
import torch

import nstutils as nst
from nstutils import compare_networks

def test_the_networks_compared_are_the_offline_three_plus_trained_ones_when_cached(monkeypatch):
    asked = []
    monkeypatch.setattr(compare_networks, "load_model",
                        lambda name, device, weights, seed: asked.append((name, weights)) or name)
    monkeypatch.setattr(compare_networks, "weights_cached", lambda name: False)
    assert list(compare_networks.networks_to_compare("cpu")) == [
        "Lite0, trained", "Lite0, random", "VGG19, random"]
    offline = list(asked)
    asked.clear()
    monkeypatch.setattr(compare_networks, "weights_cached", lambda name: name in ("vgg19", "alexnet"))
    nets = compare_networks.networks_to_compare("cpu", seed=3)
    assert list(nets) == ["Lite0, trained", "Lite0, random", "VGG19, random", "VGG19, trained",
                          "AlexNet, trained"]
    assert asked == offline + [("vgg19", "imagenet"), ("alexnet", "imagenet")]


def test_layer_sets_name_real_layers_shallow_to_deep(model):
    alexnet = nst.load_model("alexnet", "cpu", weights="random")
    for net in (model, alexnet):
        for which in ("shallow", "deeper", "five"):
            layers = compare_networks.layer_set(net, which)
            assert net.check_layers(layers, spatial=True) == layers
            order = [net.layers.index(n) for n in layers]
            assert order == sorted(order)
        assert compare_networks.layer_set(net, "deeper")[:2] == compare_networks.layer_set(net, "shallow")
    with pytest.raises(ValueError, match="Unknown layer set"):
        compare_networks.layer_set(model, "middle")


def test_gram_and_feature_distances_are_zero_for_the_same_image_only(model):
    photo = nst.sample_image("chelsea", size=(64, 64), device="cpu")
    other = nst.sample_image("mosaic", size=64, device="cpu")
    layers = ["block1.expand", "block3.expand"]
    assert all(d < 1e-5 for d in compare_networks.gram_distances(model, photo, photo, layers).values())
    assert all(d > 0.05 for d in compare_networks.gram_distances(model, other, photo, layers).values())
    # Gram matrices are normalized by H*W: a reference of another size is fine
    bigger = nst.resize(other, 96)
    assert compare_networks.gram_distances(model, other, bigger, layers)["block1.expand"] < 0.5
    features = compare_networks.feature_distances(model, photo, photo, layers)
    assert all(d == 0 for d in features.values())
    with torch.no_grad():
        f, g = model.features(other, "block3"), model.features(photo, "block3")
    by_hand = ((f["block3"] - g["block3"]).norm() / g["block3"].norm()).item()
    d = compare_networks.feature_distances(model, other, photo, "block3")["block3"]
    assert d == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="one size"):
        compare_networks.feature_distances(model, photo, bigger, layers)


def test_an_aimed_pixel_change_moves_the_features_more_than_noise_and_grows_with_epsilon(model):
    photo = nst.sample_image("chelsea", size=64, device="cpu")
    layers = ["block1.expand", "block5.expand"]
    aimed = compare_networks.feature_sensitivity(model, photo, layers, 1 / 255, "gradient")
    noise = compare_networks.feature_sensitivity(model, photo, layers, 1 / 255, "random")
    larger = compare_networks.feature_sensitivity(model, photo, layers, 4 / 255, "gradient")
    for name in layers:
        assert 0 < noise[name] < aimed[name] < larger[name]
    with pytest.raises(ValueError, match="direction"):
        compare_networks.feature_sensitivity(model, photo, layers, direction="worst")


def test_by_depth_lines_networks_up_by_the_position_of_their_layers(model):
    def measure(net, layers):
        return {name: float(i) for i, name in enumerate(layers)}

    table = compare_networks.by_depth({"a": model, "b": model}, measure, "deeper")
    assert table == {label: {"layer 1": 0.0, "layer 2": 1.0, "layer 3": 2.0, "layer 4": 3.0}
                     for label in "ab"}
