"""The network registry: the offline default, torchvision networks, named layers and hooks."""

import hashlib
import io
import pickle

import pytest
import torch
import torchvision

import nstutils as nst
from nstutils import models
from nstutils.efficientnet_lite import SameConv2d
from nstutils.download import fetch
from nstutils.models import _plain_conv_layers, torchvision_cache_dir, weights_file


def test_chelsea_is_a_cat(model):
    cat = nst.sample_image("chelsea", size=224, device="cpu")
    best = nst.top_k(model, cat, k=5)[0]
    assert 281 <= best.index <= 285, best
    assert best.probability > 0.5


def test_coffee_is_espresso(model):
    coffee = nst.sample_image("coffee", size=224, device="cpu")
    best = nst.top_k(model, coffee)[0]
    assert (best.index, best.label) == (967, "espresso")


def test_same_padding_is_tensorflows_asymmetric_padding():
    # 4 pixels, kernel 3, stride 2: TF pads 0 on the left/top and 1 on the right/bottom.
    conv = SameConv2d(1, 1, 3, stride=2)
    torch.nn.init.ones_(conv.weight)
    out = conv(torch.ones(1, 1, 4, 4))
    assert out[0, 0].tolist() == [[9.0, 6.0], [6.0, 4.0]]
    assert SameConv2d(1, 1, 3, stride=2)(torch.ones(1, 1, 7, 5)).shape[-2:] == (4, 3)


def test_layers_are_named_in_forward_order_with_the_documented_shapes(model):
    assert model.layers[:4] == ["stem", "block0.depthwise", "block0", "block1.expand"]
    assert model.layers[-3:] == ["block15", "head", "logits"]
    acts = model.features(torch.rand(1, 3, 224, 224), ["stem", "block1.expand", "block7", "head"])
    assert list(acts) == ["stem", "block1.expand", "block7", "head"]
    assert acts["stem"].shape == (1, 32, 112, 112)
    assert acts["block1.expand"].shape == (1, 96, 112, 112)  # 16 channels expanded six-fold
    assert acts["block7"].shape == (1, 80, 14, 14)
    assert acts["head"].shape == (1, 1280, 7, 7)
    assert model.channels("block5.expand") == 240  # block5 takes 40 channels, x6
    assert model.channels("logits") == 1000


def test_spatial_layers_are_all_but_the_logits(model):
    assert model.spatial_layers == model.layers[:-1]
    assert model.spatial_layers[0] == "stem" and "logits" not in model.spatial_layers
    assert model.check_layers(model.spatial_layers, spatial=True) == model.spatial_layers
    with pytest.raises(ValueError, match="not 'logits'.*see model.spatial_layers"):
        model.check_layers(["block3", "logits"], spatial=True)


def test_features_stop_after_the_last_layer_needed(model):
    calls = []
    handle = model.net._blocks[8].register_forward_hook(lambda *a: calls.append(1))
    try:
        model.features(torch.rand(1, 3, 64, 64), ["stem", "block3"])
        assert calls == []
        model(torch.rand(1, 3, 64, 64))
        assert calls == [1]
    finally:
        handle.remove()


def _hook_count(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def test_capture_records_activations_and_removes_its_hooks(model):
    x = torch.rand(2, 3, 64, 64)
    with pytest.raises(RuntimeError, match="boom"):
        with model.capture(["block2", "logits"]) as acts:
            logits = model(x)
            assert _hook_count(model) == 2
            raise RuntimeError("boom")
    assert _hook_count(model) == 0
    assert torch.equal(acts["logits"], logits)
    assert torch.allclose(acts["block2"], model.features(x, "block2")["block2"])
    assert _hook_count(model) == 0


def test_unknown_layer_names_the_closest_ones(model):
    with pytest.raises(nst.UnknownLayerError, match="Did you mean 'block5'"):
        model.features(torch.rand(1, 3, 64, 64), "blok5")


@pytest.mark.parametrize("image, message", [
    (torch.rand(3, 64, 64), r"image\[None\]"),
    (torch.rand(1, 3, 16, 16), "at least 32"),
    (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), "divide by 255"),
    (torch.rand(1, 3, 64, 64, device="meta"), "meta tensor: it has a shape but no values"),
])
def test_bad_images_get_a_clear_error(model, image, message):
    with pytest.raises((ValueError, TypeError), match=message):
        model(image)


def test_unknown_model_lists_the_registry():
    with pytest.raises(ValueError, match="efficientnet_lite0, vgg19"):
        nst.load_model("resnet9000")


def test_vgg19_and_alexnet_layer_names():
    with torch.device("meta"):
        vgg = torchvision.models.vgg19()
        alexnet = torchvision.models.alexnet()
    names = list(_plain_conv_layers(vgg.features))
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert {"relu4_2", "relu5_1", "conv5_4", "pool5"} <= set(names) and len(names) == 37
    assert all(not m.inplace for m in vgg.features if isinstance(m, torch.nn.ReLU))
    assert list(_plain_conv_layers(alexnet.features, numbered_by_block=False)) == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4", "relu4",
        "conv5", "relu5", "pool5"]


def test_torchvision_weights_offline_give_one_clear_error():
    # The autouse fixture points downloads at a closed port on 127.0.0.1.
    with pytest.raises(nst.DownloadError) as info:
        nst.load_model("vgg19", device="cpu")
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(torchvision_cache_dir()) in message
    assert "load_model('efficientnet_lite0')" in message


def _place_weights(folder, monkeypatch, name, data: bytes) -> str:
    """Write ``data`` into ``folder`` as a network's weights file, named after its own SHA-256
    prefix as torchvision names its files (so the hash check passes); returns the file name."""
    prefix = hashlib.sha256(data).hexdigest()[:8]
    filename = f"{name}-{prefix}.pth"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(data)
    real = models._weights_url
    monkeypatch.setattr(models, "_weights_url",
                        lambda n: f"https://download.example/{filename}" if n == name else real(n))
    return filename


def _saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _tiny_alexnet_weights(offset: float = 0.0) -> dict:
    """A complete AlexNet state dict in a few kB: tensor i holds i + offset everywhere."""
    with torch.device("meta"):  # shapes only, no initialization
        shapes = [(k, v.shape) for k, v in torchvision.models.alexnet().state_dict().items()]
    return {k: torch.full((1,), i + offset).expand(shape) for i, (k, shape) in enumerate(shapes)}


def test_torchvision_weights_download_once_then_load_from_the_cache(http_server, monkeypatch):
    folder, url = http_server
    reference = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    filename = _place_weights(folder, monkeypatch, "googlenet", _saved(reference.state_dict()))
    monkeypatch.setenv("NSTUTILS_WEIGHTS_MIRROR", url)

    model = nst.load_model("googlenet", device="cpu")
    assert (torchvision_cache_dir() / filename).is_file()
    assert torch.equal(model.net.conv1.conv.weight, reference.conv1.conv.weight)
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)
    assert "inception4c" in model.layers
    assert model.spatial_layers[-1] == "inception5b"
    assert nst.weights_cached("googlenet") and not nst.weights_cached("vgg19")

    (folder / filename).unlink()  # now only the cache has it
    again = nst.load_model("googlenet", device="cpu")
    assert torch.equal(again.net.fc.weight, reference.fc.weight)


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_weights_are_loaded_without_running_pickled_code(http_server, monkeypatch, capsys):
    folder, url = http_server
    payload = pickle.dumps({"features.0.weight": _Payload()}, protocol=2)
    filename = _place_weights(folder, monkeypatch, "alexnet", payload)  # its hash matches
    monkeypatch.setenv("NSTUTILS_WEIGHTS_MIRROR", url)
    with pytest.raises(nst.DownloadError, match=f"{filename} is not a valid alexnet weights "
                                                r"file.*os\.remove\("):
        nst.load_model("alexnet", device="cpu")
    assert "must never run" not in capsys.readouterr().out


def test_weights_cached_knows_where_torchvision_keeps_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert weights_file("vgg19") == tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    assert nst.weights_cached("efficientnet_lite0")  # ships with its pip package
    assert not nst.weights_cached("alexnet")
    weights_file("alexnet").parent.mkdir(parents=True)
    weights_file("alexnet").write_bytes(b"")
    assert nst.weights_cached("alexnet")
    with pytest.raises(ValueError, match="Unknown model 'resnet9000'"):
        nst.weights_cached("resnet9000")
    with pytest.raises(ValueError, match="no downloaded weights file"):
        weights_file("efficientnet_lite0")


def test_a_corrupt_weights_download_fails_the_hash_check_and_nothing_is_cached(http_server,
                                                                               tmp_path):
    folder, url = http_server
    filename = weights_file("alexnet").name  # alexnet-owt-7be5be79.pth: a SHA-256 prefix
    (folder / filename).write_bytes(b"not the weights: a proxy's error page")
    cache = tmp_path / "cache"
    with pytest.raises(nst.DownloadError, match="did not send the alexnet weights: its SHA-256 "
                                                ".*Nothing was cached"):
        fetch(f"{url}/{filename}", cache, filename, "the alexnet weights", hint="",
              sha256_prefix="7be5be79")
    assert list(cache.iterdir()) == []
    good = hashlib.sha256(b"not the weights: a proxy's error page").hexdigest()[:8]
    assert fetch(f"{url}/{filename}", cache, filename, "the alexnet weights", hint="",
                 sha256_prefix=good).is_file()


def test_wrong_weights_from_the_mirror_are_refused_and_not_cached(http_server, monkeypatch):
    folder, url = http_server
    good = _saved(_tiny_alexnet_weights())
    filename = _place_weights(folder, monkeypatch, "alexnet", good)
    (folder / filename).write_bytes(_saved(_tiny_alexnet_weights(offset=1000)))  # loadable, wrong
    monkeypatch.setenv("NSTUTILS_WEIGHTS_MIRROR", url)
    with pytest.raises(nst.DownloadError, match=f"{url}/{filename} did not send the alexnet "
                                                "weights: its SHA-256 starts with"):
        nst.load_model("alexnet", device="cpu")  # untrained weights must never load silently
    assert not nst.weights_cached("alexnet")

    (folder / filename).write_bytes(good)
    model, expected = nst.load_model("alexnet", device="cpu"), _tiny_alexnet_weights()
    for key, value in model.net.state_dict().items():
        assert torch.equal(value, expected[key]), key


@pytest.mark.parametrize("content, problem", [
    (b"", "it is empty"),
    (b"<html>captive portal</html>", "its SHA-256 starts with"),
])
def test_a_wrong_or_empty_cached_weights_file_is_named_with_how_to_remove_it(
        monkeypatch, content, problem):
    _place_weights(torchvision_cache_dir(), monkeypatch, "alexnet", _saved(_tiny_alexnet_weights()))
    cached = weights_file("alexnet")
    cached.write_bytes(content)  # replaced after the fact: a partial copy, a wrong file
    with pytest.raises(nst.download.CachedFileError) as info:
        nst.load_model("alexnet", device="cpu")
    message = str(info.value)
    assert f"The cached file {cached} is not the alexnet weights: {problem}" in message
    assert f"os.remove({str(cached)!r})" in message
    assert cached.read_bytes() == content  # named, never deleted behind the user's back


def test_class_names_and_indices():
    names = nst.imagenet_classes()
    assert len(names) == 1000 and names[967] == "espresso"
    assert names[285] == "Egyptian cat" and names[281:283] == ["tabby", "tiger cat"]
    assert nst.class_index("Goldfish") == 1
    with pytest.raises(ValueError, match="Did you mean 'espresso'"):
        nst.class_index("expresso")


# --- top_k and load_model check their arguments ------------------------------------------------

@pytest.mark.parametrize("image, error, message", [
    (lambda x: x * 255, nst.ImageArgumentError, "divide by 255"),
    (lambda x: x.index_put((torch.tensor(0),) * 4, torch.tensor(float("nan"))),
     nst.ImageArgumentError, "1 NaN or infinite value"),
    (lambda x: torch.empty(1, 3, 64, 64, device="meta"), nst.ImageArgumentError, "meta tensor"),
    (lambda x: x.expand(2, -1, -1, -1), ValueError, r"one image, got a batch of 2"),
])
def test_top_k_refuses_images_it_cannot_judge(model, image, error, message):
    x = nst.sample_image("chelsea", size=64, device="cpu")
    with pytest.raises(error, match=message):
        nst.top_k(model, image(x))


@pytest.mark.parametrize("k, message", [(2000, "between 1 and 1000, got 2000"),
                                        (0, "between 1 and 1000, got 0"),
                                        (2.5, "whole number")])
def test_top_k_refuses_k_outside_the_classes(model, k, message):
    with pytest.raises(nst.NumberError, match=message):
        nst.top_k(model, nst.sample_image("chelsea", size=64, device="cpu"), k=k)


def test_float64_images_are_classified_like_float32(model):
    x = nst.sample_image("chelsea", size=64, device="cpu")
    assert torch.allclose(model(x.double()), model(x))
    assert nst.top_k(model, x.double()[0], k=1)[0].index == nst.top_k(model, x, k=1)[0].index
    assert len(nst.top_k(model, x, k=1000)) == 1000


@pytest.mark.parametrize("device, message", [("cdua", "Did you mean 'cuda'"),
                                             ("gpu", "is not a device")])
def test_load_model_refuses_a_misspelt_device_before_loading(device, message):
    with pytest.raises(nst.DeviceError, match=message):
        nst.load_model(device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_load_model_on_cuda_without_a_gpu_says_so():
    with pytest.raises(nst.DeviceError, match="CUDA is not available.*device='cpu'"):
        nst.load_model(device="cuda")


def test_an_unknown_class_name_is_a_target_error():
    with pytest.raises(nst.TargetError, match="No ImageNet class 'tabby cat'.*'tabby'"):
        nst.class_index("tabby cat")


def test_random_weights_need_no_download_and_repeat_with_their_seed():
    first = nst.load_model("vgg16", "cpu", weights="random", seed=3)
    again = nst.load_model("vgg16", "cpu", weights="random", seed=3)
    other = nst.load_model("vgg16", "cpu", weights="random", seed=4)
    weight = lambda m: m.net.features[0].weight
    assert first.weights == "random" and "random" in repr(first)
    assert torch.equal(weight(first), weight(again)) and not torch.equal(weight(first), weight(other))
    x = torch.rand(1, 3, 64, 64)
    assert first.features(x, "relu3_1")["relu3_1"].shape == (1, 256, 16, 16)
    trained, untrained = nst.load_model("efficientnet_lite0", "cpu"), nst.load_model(
        "efficientnet_lite0", "cpu", weights="random")
    assert not torch.equal(trained.net._conv_stem.weight, untrained.net._conv_stem.weight)
    with pytest.raises(ValueError, match="Unknown weights"):
        nst.load_model("vgg16", "cpu", weights="places365")
    with pytest.raises(ValueError, match="seed"):
        nst.load_model("vgg16", "cpu", weights="random", seed=-1)
