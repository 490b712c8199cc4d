"""Fetch a file once into a cache folder, with a progress bar and one clear error offline."""

import hashlib
import os
from pathlib import Path

import pooch
import requests

USER_AGENT = "nstutils/0.1 (educational notebooks on CNN visualization and style transfer)"
TIMEOUT_S = 30


class DownloadError(RuntimeError):
    """A file the course needs could not be downloaded (usually: no network)."""


def cache_dir(kind: str) -> Path:
    """Return the folder for cached downloads of one kind ("paintings", ...).

    Args:
        kind: a subfolder name.

    Returns:
        Path: ``$NSTUTILS_CACHE/kind`` if that variable is set, else the user cache folder.
    """
    root = os.environ.get("NSTUTILS_CACHE") or pooch.os_cache("nstutils")
    return Path(root) / kind


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


def fetch(url: str, folder: Path, filename: str, what: str, hint: str,
          sha256_prefix: str | None = None) -> Path:
    """Return the cached copy of ``url``, downloading it first if it is not there yet.

    Args:
        url: where to download from.
        folder: the cache folder.
        filename: the name of the cached file.
        what: what the file is, for messages ("the vgg19 weights").
        hint: what to do without network, appended to the error.
        sha256_prefix: if given, the download must have a SHA-256 starting with it.

    Returns:
        Path: the local file.

    Raises:
        DownloadError: the file is not cached and could not be downloaded.
    """
    path = folder / filename
    if path.exists():
        return path
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=TIMEOUT_S,
                                      headers={"User-Agent": USER_AGENT})
    try:
        pooch.retrieve(url, known_hash=None, fname=filename, path=folder, downloader=downloader)
    except (requests.RequestException, OSError) as err:
        raise DownloadError(
            f"Could not download {what} from {url} ({type(err).__name__}). "
            f"It is not in the cache either: {path}. {hint}") from None
    if sha256_prefix and not _sha256(path).startswith(sha256_prefix):
        path.unlink()
        raise DownloadError(f"The download of {what} from {url} was corrupt (wrong checksum) "
                            "and was deleted. Try again.")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
