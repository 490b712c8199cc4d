"""The one download path: files fetched once into a cache, each checked before it may enter it.

A download streams into a temporary file beside its target, with a deadline for the whole
transfer (not only for each read) and a size cap, so a server that drips one byte at a time or
sends a huge body is stopped. The file is then checked (a painting must decode as an image,
weights must match their SHA-256 prefix) and only then moved into place with ``os.replace``, so
the cache never holds a partial or wrong file under a good name. A file already in the cache is
checked the same way the first time it is used; the result is recorded (path, size, modification
time and check) under ``cache_dir("verified")``, so a 500 MB weights file is hashed once, not on
every load. http, https and file URLs are accepted, whatever the case of their scheme.
"""

import hashlib
import http.client
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

import certifi
import PIL.Image
import pooch
from tqdm import tqdm

USER_AGENT = "nstutils/0.1 (educational notebooks on CNN visualization and style transfer)"
TIMEOUT_S = 30  # longest wait for any single read
DEADLINE_S = 300  # longest time for a whole download
MAX_BYTES = 64 * 2**20  # largest download accepted (paintings and photos)
SCHEMES = ("http", "https", "file")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_CHUNK = 1 << 16
_MAX_CHECK_PIXELS = 4096 * 4096  # larger images are checked for structure, not fully decoded


class DownloadError(RuntimeError):
    """A file the course needs could not be downloaded (no network, too slow, too big, wrong)."""


class CachedFileError(DownloadError):
    """A file already in the cache is not what it should be (empty, not an image, wrong hash)."""


def cache_dir(kind: str) -> Path:
    """Return the folder for cached downloads of one kind ("paintings", ...).

    Args:
        kind: a subfolder name.

    Returns:
        Path: ``$NSTUTILS_CACHE/kind`` if that variable is set, else the user cache folder.
    """
    root = os.environ.get("NSTUTILS_CACHE") or pooch.os_cache("nstutils")
    return Path(root) / kind


def is_url(text: str) -> bool:
    """Tell whether a string is an address `download` accepts (http, https or file, any case).

    Args:
        text: a path or an address.

    Returns:
        bool: True for ``http://``, ``https://`` and ``file://`` addresses.
    """
    return urllib.parse.urlsplit(str(text)).scheme.lower() in SCHEMES and "://" in str(text)


def mirrored(url: str, variable: str) -> str:
    """Point a URL at a mirror when the environment variable ``variable`` holds a base URL.

    Args:
        url: the original address; its last path segment is kept.
        variable: for example ``NSTUTILS_WEIGHTS_MIRROR``.

    Returns:
        str: ``mirror/filename`` if the variable is set, else ``url`` unchanged.
    """
    mirror = os.environ.get(variable)
    if not mirror:
        return url
    return f"{mirror.rstrip('/')}/{url.split('?')[0].rsplit('/', 1)[-1]}"


def removal_hint(path: Path) -> str:
    """Say how to delete a bad cached file, in words a student can paste into a notebook.

    Args:
        path: the file.

    Returns:
        str: one sentence.
    """
    return (f"Delete it and try again (it is then downloaded afresh); in Python: "
            f"import os; os.remove({str(path)!r})")


def fetch(url: str, folder: Path, filename: str, what: str, hint: str,
          sha256_prefix: str | None = None, max_bytes: int = MAX_BYTES,
          deadline_s: float = DEADLINE_S) -> Path:
    """Return the checked cached copy of ``url``, downloading it first if it is not there yet.

    The check depends on the file: with ``sha256_prefix`` its hash must start with it; a file
    named like an image must decode as one; any file must be non-empty.

    Args:
        url: where to download from.
        folder: the cache folder.
        filename: the name of the cached file.
        what: what the file is, for messages ("the vgg19 weights").
        hint: what to do without network, appended to the error.
        sha256_prefix: if given, the file must have a SHA-256 starting with it (torchvision
            names its weights files after such a prefix).
        max_bytes: the largest download accepted.
        deadline_s: the longest time the whole download may take.

    Returns:
        Path: the local file.

    Raises:
        CachedFileError: the cached file fails its check (the message names it).
        DownloadError: the file is not cached and could not be downloaded, or it failed its check.
    """
    path = folder / filename
    check = _check_for(filename, sha256_prefix)
    if path.exists():
        _check_cached(path, check, what)
        return path
    download(url, path, what, hint=f"It is not in the cache either: {path}. {hint}", check=check,
             max_bytes=max_bytes, deadline_s=deadline_s)
    _remember(path, check)
    return path


def download(url: str, path: Path, what: str, hint: str, progressbar: bool = True,
             check: str = "non-empty", max_bytes: int = MAX_BYTES,
             deadline_s: float = DEADLINE_S) -> Path:
    """Download ``url`` to ``path``: stream to a temporary file beside it, check, then move it.

    Nothing is left at ``path`` when the download fails, is too slow or too big, or fails the
    check; a file already at ``path`` is replaced only by one that passed.

    Args:
        url: an http, https or file address.
        path: the local file to create (its folder is created if missing).
        what: what the file is, for messages ("the vgg19 weights").
        hint: what to do instead, appended to the error.
        progressbar: show a progress bar.
        check: ``"non-empty"``, ``"image"`` or ``"sha256:<hex prefix>"``.
        max_bytes: the largest download accepted.
        deadline_s: the longest time the whole download may take.

    Returns:
        Path: ``path``.

    Raises:
        DownloadError: unreachable, refused, too slow, too big, or not the file expected.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                           suffix=".part", delete=False)
    except OSError as err:
        raise DownloadError(f"Cannot write {what} into {path.parent} ({err.strerror}). Set "
                            "NSTUTILS_CACHE (paintings) or TORCH_HOME (weights) to a folder you "
                            "can write to.") from None
    part_path = Path(part.name)
    try:
        with part:
            _stream(url, part, what, hint, progressbar, max_bytes, deadline_s)
        problem = _problem(part_path, check)
        if problem:
            raise DownloadError(f"{url} did not send {what}: {problem}. Nothing was cached. {hint}")
        os.replace(part_path, path)
    finally:
        part_path.unlink(missing_ok=True)
    return path


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file as hex, reading it in chunks.

    Args:
        path: the file.

    Returns:
        str: 64 hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK * 16):
            digest.update(chunk)
    return digest.hexdigest()


def _stream(url: str, out: BinaryIO, what: str, hint: str, progressbar: bool, max_bytes: int,
            deadline_s: float) -> None:
    """Copy the body behind ``url`` into ``out``, stopping at the size cap or the deadline."""
    if not is_url(url):
        raise DownloadError(f"Cannot download {what} from {url!r}: only http://, https:// and "
                            "file:// addresses are supported.")
    start, received, timeout_s = time.monotonic(), 0, min(TIMEOUT_S, deadline_s)
    too_big = (f"{url} sends more than {max_bytes / 2**20:.0f} MB for {what}, more than such a "
               f"file ever is: the download was stopped and nothing was cached. {hint}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    context = ssl.create_default_context(cafile=certifi.where())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
            total = int(response.headers.get("Content-Length") or 0)
            if total > max_bytes:
                raise DownloadError(too_big)
            with tqdm(total=total or None, unit="B", unit_scale=True, desc=what,
                      disable=not progressbar, leave=False) as bar:
                while chunk := response.read1(_CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadError(too_big)
                    if time.monotonic() - start > deadline_s:
                        raise DownloadError(
                            f"The download of {what} from {url} took longer than {deadline_s:g} s "
                            f"({received / 2**20:.1f} MB received) and was stopped; nothing was "
                            f"cached. Try again on a faster network. {hint}")
                    out.write(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise DownloadError(f"Could not download {what} from {url} ({_reason(err, timeout_s)}). "
                            f"{hint}") from None


def _reason(err: Exception, timeout_s: float) -> str:
    """Say in a few words why a transfer failed (HTTP status, refused, timed out, no such file)."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        err = err.reason if isinstance(err.reason, Exception) else err
    if isinstance(err, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(err, OSError) and err.strerror:
        return f"{type(err).__name__}: {err.strerror}"
    return type(err).__name__


def _check_for(filename: str, sha256_prefix: str | None) -> str:
    """The check a cached file must pass: its hash prefix, decoding as an image, or non-empty."""
    if sha256_prefix:
        return f"sha256:{sha256_prefix}"
    return "image" if filename.lower().endswith(IMAGE_SUFFIXES) else "non-empty"


def _problem(path: Path, check: str) -> str | None:
    """What is wrong with a file for a check, in words, or None when it passes."""
    try:
        if path.stat().st_size == 0:
            return "it is empty (0 bytes)"
        if check == "image":
            return _image_problem(path)
        if check.startswith("sha256:"):
            prefix, digest = check.removeprefix("sha256:"), file_sha256(path)
            if not digest.startswith(prefix):
                return (f"its SHA-256 starts with {digest[:len(prefix)]}, not {prefix}, so it is "
                        "another file or a damaged copy")
    except OSError as err:
        return f"it cannot be read ({err.strerror or type(err).__name__})"
    return None


def _image_problem(path: Path) -> str | None:
    """Decode an image file cheaply (JPEGs at reduced scale) and say what is wrong, or None."""
    try:
        with PIL.Image.open(path) as image:
            image.draft("RGB", (1, 1))  # JPEG: decode at 1/8 scale; other formats: unchanged
            if image.width * image.height > _MAX_CHECK_PIXELS:
                image.verify()
            else:
                image.load()
    except PIL.UnidentifiedImageError:
        with open(path, "rb") as f:
            start = f.read(64).lstrip().lower()
        page = " (it is a web page)" if start.startswith((b"<!doctype html", b"<html")) else ""
        return f"it is not an image{page}"
    except (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError) as err:
        return f"it is a damaged or truncated image ({err})"
    return None


def _check_cached(path: Path, check: str, what: str) -> None:
    """Refuse a cached file that fails its check, naming it; a pass is recorded for next time."""
    if _verified_before(path, check):
        return
    problem = _problem(path, check)
    if problem:
        raise CachedFileError(f"The cached file {path} is not {what}: {problem}. "
                              f"{removal_hint(path)}")
    _remember(path, check)


def _record(path: Path) -> Path:
    """The file that records a passed check of ``path`` (one per absolute path)."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return cache_dir("verified") / f"{path.name}.{key}.json"


def _stamp(path: Path, check: str) -> dict:
    """What identifies a checked file: its absolute path, size, modification time and check."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "check": check}


def _verified_before(path: Path, check: str) -> bool:
    """Tell whether this very file (same size and time) passed this check before."""
    try:
        return json.loads(_record(path).read_text()) == _stamp(path, check)
    except (OSError, ValueError):
        return False


def _remember(path: Path, check: str) -> None:
    """Record that ``path`` passed ``check``; in a read-only cache it is checked again next time."""
    record = _record(path)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(_stamp(path, check)))
    except OSError:
        pass
