"""Pick the device the course runs on."""

import torch

from .validate import check_device

# Input values per forward pass on a CPU: four 224x224 RGB images. A batch of that size
# keeps a layer's activations in the processor's cache; 16 or 32 such images spill out of it and
# run 2-4x slower per image (measured on an AMD EPYC, one thread: the pool forward of notebook 01
# at 16 ms per 192 px image in fours, 69 ms in 32s; the gradients of notebook 04 at 74 ms per
# 224 px image in fours, 141 ms in 16s). Small inputs (toy networks) go many at a time.
CPU_VALUES_PER_PASS = 600_000


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


def images_per_pass(device: torch.device, values_per_image: int, elsewhere: int) -> int:
    """How many inputs to send through a network at once on a device.

    Args:
        device: where the network runs.
        values_per_image: the size of one input (3 * H * W for an image).
        elsewhere: the batch for a GPU, where larger batches are faster.

    Returns:
        int: on a CPU, as many inputs as fit in `CPU_VALUES_PER_PASS` (at least 1); else
        ``elsewhere``.
    """
    if device.type != "cpu":
        return elsewhere
    return max(1, CPU_VALUES_PER_PASS // max(1, values_per_image))
