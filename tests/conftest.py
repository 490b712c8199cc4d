"""Shared fixtures: the real default network, a local HTTP server, and no internet."""

import functools
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers share the cores: one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import nstutils as nst  # noqa: E402 (after the thread count, before torch, as in the notebooks)
import torch  # noqa: E402


@pytest.fixture(scope="session")
def model() -> nst.FeatureNetwork:
    """The offline default network (EfficientNet-Lite0 with ImageNet weights) on the CPU."""
    return nst.load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(autouse=True)
def offline(tmp_path_factory, monkeypatch):
    """Keep every test off the internet and out of the user's caches.

    Downloads go to a closed port on 127.0.0.1 unless a test points a mirror at its own server.
    """
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("NSTUTILS_CACHE", str(cache / "nstutils"))
    monkeypatch.setenv("TORCH_HOME", str(cache / "torch"))
    monkeypatch.setenv("NSTUTILS_WEIGHTS_MIRROR", closed_port_url())
    monkeypatch.setenv("NSTUTILS_PAINTINGS_MIRROR", closed_port_url())
    torch.manual_seed(0)


def closed_port_url() -> str:
    """Return a base URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path):
    """Serve a temporary folder on 127.0.0.1; yields (folder, base_url)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def image_dir(tmp_path) -> Path:
    """A folder for test images."""
    return tmp_path


@pytest.fixture
def ctrl_c_at(monkeypatch):
    """Press Ctrl-C at the given Adam step: ``ctrl_c_at(3)`` raises KeyboardInterrupt there.

    The call returns the list that gets one entry per step attempted, to count them.
    """
    def arm(step: int) -> list:
        steps = []
        adam_step = torch.optim.Adam.step

        def step_or_interrupt(self, *args, **kwargs):
            steps.append(1)
            if len(steps) == step:
                raise KeyboardInterrupt
            return adam_step(self, *args, **kwargs)

        monkeypatch.setattr(torch.optim.Adam, "step", step_or_interrupt)
        return steps
    return arm
