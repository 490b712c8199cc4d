"""Downloads: a total deadline, a size cap, and nothing unchecked in the cache.

Every hostile server here runs on 127.0.0.1 in a thread: one that drips a byte at a time, one
that sends an endless or a huge body, one that answers an HTML page for a painting.
"""

import hashlib
import http.server
import io
import threading
import time
import warnings

import numpy as np
import PIL.Image
import pytest

import nstutils as nst
from nstutils import download as dl
from nstutils.data import painting_path


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` by name, plus ``/drip``, ``/stall``, ``/endless`` and ``/huge``."""

    files: dict[str, bytes] = {}
    seen: list[dict[str, str]] = []

    def do_GET(self):
        self.seen.append(dict(self.headers))
        name = self.path.lstrip("/")
        try:
            if name == "drip":  # a byte every 50 ms: each read is quick, the whole never ends
                self._start(10_000)
                for _ in range(10_000):
                    self._send(b"x", pause=0.05)
            elif name == "stall":  # headers, then silence
                self._start(100)
                self._send(b"", pause=3)
            elif name in ("endless", "huge"):  # no length / a declared 800 MB
                self._start(None if name == "endless" else 800 * 2**20)
                while True:
                    self._send(bytes(2**16))
            elif name in self.files:
                self._start(len(self.files[name]))
                self.wfile.write(self.files[name])
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should

    def _start(self, length):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, data, pause=0.0):
        self.wfile.write(data)
        self.wfile.flush()
        time.sleep(pause)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile():
    """Start the hostile server; yields (files to serve, base URL, request headers seen)."""
    files, seen = {}, []
    handler = type("Handler", (_HostileHandler,), {"files": files, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield files, f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _png() -> bytes:
    buffer = io.BytesIO()
    array = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    PIL.Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


HTML = b"<!DOCTYPE html><html><body>Please log in to the wifi</body></html>"


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_dripping_server_is_stopped_at_the_total_deadline(hostile, tmp_path):
    _, url, _ = hostile
    start = time.monotonic()
    with pytest.raises(nst.DownloadError, match=r"took longer than 0.5 s .*nothing was cached"):
        dl.fetch(f"{url}/drip", tmp_path, "slow.bin", "the slow file", hint="", deadline_s=0.5)
    assert 0.5 <= time.monotonic() - start < 2.0
    assert _leftovers(tmp_path) == []


def test_a_silent_server_is_stopped_by_the_read_timeout(hostile, tmp_path):
    _, url, _ = hostile
    start = time.monotonic()
    with pytest.raises(nst.DownloadError, match=r"\(no answer within 0.3 s\)"):
        dl.fetch(f"{url}/stall", tmp_path, "silent.bin", "the file", hint="", deadline_s=0.3)
    assert time.monotonic() - start < 2.0
    assert _leftovers(tmp_path) == []


def test_an_endless_body_is_stopped_at_the_size_cap(hostile, tmp_path):
    _, url, _ = hostile
    start = time.monotonic()
    with pytest.raises(nst.DownloadError, match=r"sends more than 1 MB for the big file"):
        dl.fetch(f"{url}/endless", tmp_path, "big.bin", "the big file", hint="",
                 max_bytes=2**20)
    assert time.monotonic() - start < 5
    assert _leftovers(tmp_path) == []


def test_a_declared_huge_body_is_refused_before_reading_it(hostile, tmp_path, monkeypatch):
    _, url, _ = hostile
    monkeypatch.setattr(dl, "_CHUNK", 1)  # any read of the body would now take ages
    start = time.monotonic()
    with pytest.raises(nst.DownloadError, match=r"sends more than 64 MB for the painting"):
        dl.fetch(f"{url}/huge", tmp_path, "huge.jpg", "the painting", hint="")
    assert time.monotonic() - start < 2
    assert _leftovers(tmp_path) == []


def test_an_html_page_in_place_of_a_painting_never_enters_the_cache(hostile, monkeypatch):
    files, url, _ = hostile
    filename = nst.data.PAINTINGS["starry_night"][0]
    files[filename] = HTML
    monkeypatch.setenv("NSTUTILS_PAINTINGS_MIRROR", url)
    with pytest.warns(UserWarning, match=r"did not send the painting 'starry_night': it is not an "
                                         r"image \(it is a web page\)\. Nothing was cached\..*"
                                         r"Using the generated style 'swirl'"):
        nst.sample_image("starry_night", size=64, device="cpu")
    cached = dl.cache_dir("paintings") / "starry_night.jpg"
    assert not cached.exists() and _leftovers(cached.parent) == []

    files[filename] = _png()  # the mirror is fixed: the next call downloads and keeps it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = nst.sample_image("starry_night", device="cpu")
    assert image.shape == (1, 3, 40, 50) and painting_path("starry_night") == cached


def test_a_bad_painting_already_cached_is_named_with_how_to_remove_it(monkeypatch):
    cached = dl.cache_dir("paintings") / "great_wave.jpg"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(HTML)
    with pytest.warns(UserWarning, match=r"The cached file .*great_wave\.jpg is not the painting "
                                         r"'great_wave': it is not an image.*os\.remove\("):
        nst.sample_image("great_wave", size=64, device="cpu")
    assert cached.read_bytes() == HTML  # named, not silently deleted


@pytest.mark.parametrize("body, problem", [(b"", "it is empty"), (_png()[:200], "it is a damaged or truncated image")])
def test_empty_and_truncated_images_are_refused(hostile, tmp_path, body, problem):
    files, url, _ = hostile
    files["bad.png"] = body
    with pytest.raises(nst.DownloadError, match=f"did not send the photo: {problem}"):
        dl.fetch(f"{url}/bad.png", tmp_path, "bad.png", "the photo", hint="")
    assert _leftovers(tmp_path) == []


def test_a_hash_mismatch_from_a_mirror_is_refused_and_a_match_is_kept(hostile, tmp_path):
    files, url, _ = hostile
    files["w-0000.pth"] = b"a mirror's wrong file"
    with pytest.raises(nst.DownloadError, match=r"its SHA-256 starts with .*, not 0000"):
        dl.fetch(f"{url}/w-0000.pth", tmp_path, "w-0000.pth", "the weights", hint="",
                 sha256_prefix="0000")
    assert _leftovers(tmp_path) == []
    prefix = hashlib.sha256(files["w-0000.pth"]).hexdigest()[:8]
    path = dl.fetch(f"{url}/w-0000.pth", tmp_path, "w.pth", "the weights", hint="",
                    sha256_prefix=prefix)
    assert path.read_bytes() == files["w-0000.pth"] and _leftovers(tmp_path) == ["w.pth"]


def test_a_cached_file_is_hashed_once_then_again_only_when_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    path.write_bytes(b"weights")
    prefix = hashlib.sha256(b"weights").hexdigest()[:8]
    calls, real = [], dl.file_sha256
    monkeypatch.setattr(dl, "file_sha256", lambda p: calls.append(p) or real(p))

    def fetch():
        return dl.fetch("http://127.0.0.1:9/unused", tmp_path, "w.pth", "the weights", hint="",
                        sha256_prefix=prefix)

    assert fetch() == path and fetch() == path
    assert len(calls) == 1  # the second load trusts the record
    path.write_bytes(b"weightz")  # same size, new content and time
    with pytest.raises(dl.CachedFileError, match=r"The cached file .*w\.pth is not the weights: "
                                                 r"its SHA-256 .*os\.remove\("):
        fetch()
    assert len(calls) == 2


def test_a_failed_download_leaves_an_existing_file_untouched(hostile, tmp_path):
    files, url, _ = hostile
    files["page.png"] = HTML
    target = tmp_path / "photo.png"
    target.write_bytes(_png())
    with pytest.raises(nst.DownloadError, match="not an image"):
        dl.download(f"{url}/page.png", target, "a photo", hint="", check="image")
    assert target.read_bytes() == _png() and _leftovers(tmp_path) == ["photo.png"]


def test_schemes_are_case_insensitive_and_file_urls_read_the_local_file(hostile, tmp_path):
    files, url, seen = hostile
    files["cat.png"] = _png()
    got = dl.download(url.replace("http://", "HTTP://") + "/cat.png", tmp_path / "a.png",
                      "a photo", hint="", check="image")
    assert got.read_bytes() == _png()
    assert seen[-1]["User-Agent"] == dl.USER_AGENT
    local = tmp_path / "b.png"
    dl.download(f"FILE://{got}", local, "a photo", hint="", check="image")
    assert local.read_bytes() == _png()
    assert dl.is_url("Https://x/y.jpg") and dl.is_url("file:///tmp/a.png")
    assert not dl.is_url("photos/cat.png") and not dl.is_url("C:\\photos\\cat.png")


@pytest.mark.parametrize("address, message", [
    ("ftp://example.org/a.png", r"only http://, https:// and file:// addresses are supported"),
    ("file:///no/such/file.png", r"\(FileNotFoundError: No such file or directory\)\. Check"),
    ("{url}/missing.png", r"\(HTTP 404 Not Found\)\. Check"),
])
def test_unusable_addresses_get_one_clear_error(hostile, tmp_path, address, message):
    _, url, _ = hostile
    with pytest.raises(nst.DownloadError, match=message):
        dl.download(address.format(url=url), tmp_path / "x.png", "a photo", hint="Check it.")
    assert _leftovers(tmp_path) == []


def test_an_unwritable_cache_folder_says_which_variable_to_set(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(nst.DownloadError, match=r"Cannot write the painting into .*NSTUTILS_CACHE"):
        dl.download("http://127.0.0.1:9/a.png", blocker / "a.png", "the painting", hint="")
