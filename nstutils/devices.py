"""Pick the device the course runs on."""

import torch

from .validate import check_device


def default_device() -> torch.device:
    """Return the fastest available device: CUDA, then Apple MPS, then the CPU.

    Returns:
        torch.device: ``cuda``, ``mps`` or ``cpu``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():  # Apple GPUs (torch >= 2.1 always has the module)
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device | str | None = None) -> str:
    """Describe a device in one line for the top of a notebook.

    Args:
        device: the device to describe; the default device when None.

    Returns:
        str: for example ``"cuda: NVIDIA H100 (79 GiB)"`` or ``"cpu: 2 threads"``.
    """
    device = check_device(device) if device is not None else default_device()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda: {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "mps: Apple GPU"
    return f"cpu: {torch.get_num_threads()} threads"

