"""default_device: CUDA, then MPS, then the CPU; describe_device; no hidden default device."""

import types

import pytest
import torch

import nstutils as nst


@pytest.fixture
def devices(monkeypatch):
    """Pretend which accelerators exist: ``devices(cuda=True, mps=False)``."""
    def pretend(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return pretend


@pytest.mark.parametrize("cuda, mps, expected", [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu"),
])
def test_prefers_cuda_then_mps_then_cpu(devices, cuda, mps, expected):
    devices(cuda=cuda, mps=mps)
    assert nst.default_device() == torch.device(expected)


def test_describe_device_names_the_card_or_the_threads(devices, monkeypatch):
    card = types.SimpleNamespace(name="NVIDIA H100 80GB HBM3", total_memory=79 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: card)
    devices(cuda=True, mps=True)
    assert nst.describe_device("cuda") == "cuda: NVIDIA H100 80GB HBM3 (79 GiB)"
    assert nst.describe_device(torch.device("mps")) == "mps: Apple GPU"
    assert nst.describe_device("cpu") == f"cpu: {torch.get_num_threads()} threads"
    devices(cuda=True, mps=False)
    assert nst.describe_device() == "cuda: NVIDIA H100 80GB HBM3 (79 GiB)"
    devices(cuda=False, mps=False)
    assert nst.describe_device().startswith("cpu: ")


def test_functions_follow_their_inputs_not_the_default_device(model, devices):
    # With a GPU announced (and none usable here), anything that moved tensors to the default
    # device instead of the device of its inputs would fail or return a cuda tensor.
    devices(cuda=True, mps=False)
    assert nst.default_device().type == "cuda"
    image = torch.rand(1, 3, 64, 64)
    assert model.features(image, "block3")["block3"].device.type == "cpu"
    assert nst.top_k(model, image)[0].probability > 0
    assert nst.image_grid([image, nst.resize(image, 48)]).device.type == "cpu"
    assert nst.load_image(image, device=image.device).device.type == "cpu"


def test_a_device_that_is_missing_or_misspelt_says_what_to_use(devices):
    devices(cuda=False, mps=False)
    with pytest.raises(nst.DeviceError, match="CUDA is not available.*device='cpu'"):
        nst.describe_device("cuda")
    with pytest.raises(nst.DeviceError, match="MPS is not available"):
        nst.sample_image("chelsea", size=64, device="mps")
    with pytest.raises(ValueError, match="not a device. Did you mean 'cuda'"):
        nst.sample_image("chelsea", size=64, device="cdua")
    with pytest.raises(nst.DeviceError, match="cannot run the course"):
        nst.describe_device("meta")
