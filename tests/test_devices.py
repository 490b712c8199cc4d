"""default_device: CUDA, then MPS, then the CPU."""

import torch

import nstutils as nst


def test_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert nst.default_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert nst.default_device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert nst.default_device() == torch.device("cpu")
    assert nst.describe_device("cpu").startswith("cpu:")


def test_everything_follows_the_device_of_its_inputs(model):
    image = nst.sample_image("coffee", size=64, device="cpu")
    assert image.device.type == "cpu" and model.device.type == "cpu"
    assert model.features(image, "block3")["block3"].device == image.device
